import Cluster
import EtceteraAPI

/// etcd's KV service: forwards each call to the kv service and completes the response header.
/// Messages pass through encoded: the gateway neither decodes requests nor re-encodes responses
/// (see `ServiceBackend.forward`), except a txn too large to forward, which is decoded to tell whether it
/// only reads (etcd exempts read-only txns from the request size limit).
struct KVHandler: Sendable {
    let backend: ServiceBackend
    let identity: ClusterIdentity

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
        for call in Self.calls {
            table.raw("etcdserverpb.KV", call.method) { request, _, respond in
                var limitSize = call.limitSize
                if call.method == "Txn", limitSize, request.count + 16 > backend.maxRequestBytes,
                   let txn = try? Etcdserverpb_TxnRequest(serializedBytes: request), txn.isReadOnly {
                    limitSize = false
                }
                backend.forward(
                    request, requestField: call.requestField, replyField: call.replyField,
                    limitSize: limitSize, headerSuffix: suffix, completion: respond)
            }
        }
    }
}
