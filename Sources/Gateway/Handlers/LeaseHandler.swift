import Auth
import Cluster
import EtceteraAPI
import GRPCWire
import Synchronization

/// etcd's Lease service: forwards each call to the lease service, encoded as it came, and completes
/// the response header. Keep-alive is a bidirectional stream: every request is forwarded in order
/// and each answer written back as it comes.
///
/// With auth on (docs/auth.md): LeaseRevoke needs WRITE on every key attached to the lease (asked of
/// the kv store just before), LeaseGrant only that a token, if sent, be valid, as in etcd 3.4.
/// LeaseTimeToLive with keys needs a known caller with READ on every key attached to the lease, as etcd
/// checks it since 3.4.26 (CVE-2023-32082); without keys it is not checked. LeaseLeases needs a known
/// caller with READ on every key attached to any lease, as later etcd releases check it (etcd 3.4.23
/// lists every lease to anyone). Keep-alives are not checked, as in etcd 3.4.
struct LeaseHandler: Sendable {
    let backend: ServiceBackend
    let kv: ServiceBackend
    let identity: ClusterIdentity
    let gate: AuthGate?
    /// Raises the answers' header revisions to the store's as the gateway last saw it.
    let storeRevision: StoreRevision

    /// Field numbers of each call in `LeaseRequest` and `LeaseReply` (Protos/etcetera/lease_service.proto).
    private static let leasesCall = (method: "LeaseLeases", requestField: 5, replyField: 6)
    private static let unaryCalls: [(method: String, requestField: Int, replyField: Int)] = [
        ("LeaseGrant", 1, 2),
        ("LeaseRevoke", 2, 3),
        ("LeaseTimeToLive", 4, 5),
        leasesCall,
    ]

    /// Completes once the lease service answers an empty LeaseLeases request; throws its status otherwise.
    static func probe(_ backend: ServiceBackend) async throws(GRPCStatus) {
        try await backend.probe(requestField: leasesCall.requestField, replyField: leasesCall.replyField)
    }

    func register(in table: inout MethodTable) {
        let backend = self.backend
        let suffix = identity.headerFieldSuffix
        let kv = self.kv
        let gate = self.gate
        let storeRevision = self.storeRevision
        for call in Self.unaryCalls {
            table.raw("etcdserverpb.Lease", call.method) { request, context, answer in
                let respond: Responder<[UInt8]> = { answer($0.map(storeRevision.raisingHeader)) }
                let forward: @Sendable () -> Void = {
                    backend.forward(
                        request, requestField: call.requestField, replyField: call.replyField,
                        limitSize: false, headerSuffix: suffix, completion: respond)
                }
                guard let gate, let requirement = Self.requirement(call.method, request, lease: backend, kv: kv) else { return forward() }
                gate.whenAllowed(context, { requirement }, respond: respond, body: forward)
            }
        }
        table.streaming("etcdserverpb.Lease", "LeaseKeepAlive") { _, writer in
            KeepAliveStream(backend: backend, writer: writer, headerSuffix: suffix, storeRevision: storeRevision)
        }
    }

    /// What a unary call needs once auth is on; nil for a call that is not checked. A request that does
    /// not decode needs a known caller (the lease service then refuses it).
    private static func requirement(_ method: String, _ request: [UInt8], lease: ServiceBackend, kv: ServiceBackend) -> AuthGate.PendingRequirement? {
        switch method {
        case "LeaseGrant":
            return .known(.validTokenIfAny)
        case "LeaseRevoke":
            guard let revoke = try? Etcdserverpb_LeaseRevokeRequest(serializedBytes: request) else { return .known(.authenticated) }
            var requirements = KeyRequirements()
            requirements.addKeys(of: revoke.id, needing: .write)
            return requirements.requirement(kv: kv)
        case "LeaseTimeToLive":
            guard let timeToLive = try? Etcdserverpb_LeaseTimeToLiveRequest(serializedBytes: request) else { return .known(.authenticated) }
            guard timeToLive.keys else { return nil }
            var requirements = KeyRequirements(baseline: .authenticated)
            requirements.addKeys(of: timeToLive.id, needing: .read)
            return requirements.requirement(kv: kv)
        case leasesCall.method:
            return .lookup(floor: .authenticated) { permits in await readOfEveryAttachedKey(lease: lease, kv: kv, permits: permits) }
        default:
            return nil
        }
    }

    /// READ on every key attached to any lease the lease service holds now: one kv lookup per lease, up
    /// to the first lease with a key the caller may not read (`permits`).
    private static func readOfEveryAttachedKey(
        lease: ServiceBackend, kv: ServiceBackend, permits: (AuthRequirement) -> Bool
    ) async -> Result<AuthRequirement, GRPCStatus> {
        let listed = await withCheckedContinuation { continuation in
            lease.forward([], requestField: leasesCall.requestField, replyField: leasesCall.replyField, limitSize: false, headerSuffix: []) {
                continuation.resume(returning: $0)
            }
        }
        let leases: Etcdserverpb_LeaseLeasesResponse
        do {
            leases = try Etcdserverpb_LeaseLeasesResponse(serializedBytes: try listed.get())
        } catch let status as GRPCStatus {
            return .failure(status)
        } catch {
            return .failure(GRPCStatus(code: .internalError, message: "etcetera: undecodable lease list"))
        }
        var requirements = KeyRequirements(baseline: .authenticated)
        for status in leases.leases { requirements.addKeys(of: status.id, needing: .read) }
        return await requirements.resolved(kv: kv, permits: permits)
    }
}

/// One client keep-alive stream. Its backlog bounds the keep-alives forwarded and not yet answered
/// to the client, so a client that sends keep-alives and never reads the answers is paused.
private final class KeepAliveStream: StreamingCall, Sendable {
    private let backend: ServiceBackend
    private let writer: StreamWriter
    private let headerSuffix: [UInt8]
    private let storeRevision: StoreRevision
    private let backlog: StreamBacklog
    /// Keep-alives forwarded and not answered yet, and whether the client has closed its side.
    private let progress = Mutex((pending: 0, clientDone: false))

    init(backend: ServiceBackend, writer: StreamWriter, headerSuffix: [UInt8], storeRevision: StoreRevision) {
        self.backend = backend
        self.writer = writer
        self.headerSuffix = headerSuffix
        self.storeRevision = storeRevision
        backlog = StreamBacklog(writer: writer)
    }

    func received(_ message: [UInt8]) -> StreamDemand {
        progress.withLock { $0.pending += 1 }
        let demand = backlog.taken()
        backend.forward(
            message, requestField: Self.keepAliveRequestField, replyField: Self.keepAliveReplyField,
            limitSize: false, headerSuffix: headerSuffix
        ) { [self] result in
            switch result {
            case .success(let response): writer.send(storeRevision.raisingHeader(of: response)) { [backlog] in backlog.answered(1) }
            case .failure(let status): writer.finish(status)
            }
            let finished = progress.withLock { state in
                state.pending -= 1
                return state.clientDone && state.pending == 0
            }
            if finished { writer.finish(GRPCStatus(code: .ok, message: "")) }
        }
        return demand
    }

    /// etcd's keep-alive loop answers what it has read and returns when the client closes its side,
    /// ending the stream with OK.
    func clientFinished() {
        let finished = progress.withLock { state in
            state.clientDone = true
            return state.pending == 0
        }
        if finished { writer.finish(GRPCStatus(code: .ok, message: "")) }
    }

    func cancelled() {}

    /// `LeaseRequest.keep_alive` and `LeaseReply.keep_alive`.
    private static let keepAliveRequestField = 3
    private static let keepAliveReplyField = 4
}
