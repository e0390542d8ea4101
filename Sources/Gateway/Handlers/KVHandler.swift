import Auth
import Cluster
import EtceteraAPI

/// etcd's KV service: forwards each call to the kv service and completes the response header.
/// Messages pass through encoded: the gateway neither decodes requests nor re-encodes responses
/// (see `ServiceBackend.forward`), except a txn too large to forward, which is decoded to tell whether it
/// only reads (etcd exempts read-only txns from the request size limit).
///
/// With auth on, each request is decoded once more to name the keys it reads and writes (and, for a put
/// with a lease, the keys already on that lease), and checked by the `AuthGate` before it is forwarded.
struct KVHandler: Sendable {
    let backend: ServiceBackend
    let identity: ClusterIdentity
    let gate: AuthGate?
    /// Told every revision a KV answer carries.
    let storeRevision: StoreRevision

    /// Field numbers of each call in `KVRequest` and `KVReply` (Protos/etcetera/kv_service.proto).
    private static let calls: [(method: String, requestField: Int, replyField: Int, limitSize: Bool)] = [
        ("Range", 1, 2, false),
        ("Put", 2, 3, true),
        ("DeleteRange", 3, 4, true),
        ("Txn", 4, 5, true),
        ("Compact", 5, 6, false),
    ]

    func register(in table: inout MethodTable) {
        let backend = self.backend
        let suffix = identity.headerFieldSuffix
        let storeRevision = self.storeRevision
        for call in Self.calls {
            let gate = self.gate
            table.raw("etcdserverpb.KV", call.method) { request, context, answer in
                let respond: Responder<[UInt8]> = { result in
                    if case .success(let response) = result { storeRevision.observe(response) }
                    answer(result)
                }
                let forward: @Sendable () -> Void = {
                    var limitSize = call.limitSize
                    if call.method == "Txn", limitSize, request.count + 16 > backend.maxRequestBytes,
                       let txn = try? Etcdserverpb_TxnRequest(serializedBytes: request, options: MessageDepth.binaryDecodingOptions),
                       txn.isReadOnly {
                        limitSize = false
                    }
                    backend.forward(
                        request, requestField: call.requestField, replyField: call.replyField,
                        limitSize: limitSize, headerSuffix: suffix,
                        timeout: Self.isPhysicalCompaction(call.method, request) ? ServiceBackend.longOperationTimeout : nil,
                        completion: respond)
                }
                guard let gate else { return forward() }
                gate.whenAllowed(context, { Self.requirement(call.method, request, kv: backend) }, respond: respond, body: forward)
            }
        }
    }

    /// A physical Compact answers only once the history is gone, which takes longer the more there is
    /// (about 10 s per GiB), so it gets the long timeout; etcd's client waits as long as it takes.
    private static func isPhysicalCompaction(_ method: String, _ request: [UInt8]) -> Bool {
        method == "Compact" && ((try? Etcdserverpb_CompactionRequest(serializedBytes: request))?.physical ?? false)
    }

    /// What etcd checks for each call (see `KeyRequirements`); Compact needs nothing but a valid token
    /// if one is sent (etcd 3.4; later etcd asks for the root role, docs/auth.md). A request that does not decode is passed on for the kv store to refuse.
    static func requirement(_ method: String, _ request: [UInt8], kv: ServiceBackend) -> AuthGate.PendingRequirement {
        let operation: Etcdserverpb_RequestOp.OneOf_Request
        do {
            switch method {
            case "Range": operation = .requestRange(try Etcdserverpb_RangeRequest(serializedBytes: request))
            case "Put": operation = .requestPut(try Etcdserverpb_PutRequest(serializedBytes: request))
            case "DeleteRange": operation = .requestDeleteRange(try Etcdserverpb_DeleteRangeRequest(serializedBytes: request))
            case "Txn": operation = .requestTxn(try Etcdserverpb_TxnRequest(serializedBytes: request, options: MessageDepth.binaryDecodingOptions))
            default: return .known(.validTokenIfAny)
            }
        } catch {
            return .known(.authenticated)
        }
        var requirements = KeyRequirements()
        requirements.add(operation)
        return requirements.requirement(kv: kv)
    }
}
