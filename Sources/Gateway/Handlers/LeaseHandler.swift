import Cluster
import EtceteraAPI
import GRPCWire
import Synchronization

/// etcd's Lease service: forwards each call to the lease service, encoded as it came, and completes
/// the response header. Keep-alive is a bidirectional stream: every request is forwarded in order
/// and each answer written back as it comes.
///
/// With auth on, as in etcd 3.4: LeaseRevoke needs WRITE on every key attached to the lease (asked of
/// the kv store just before), LeaseGrant only that a token, if sent, be valid; LeaseTimeToLive,
/// LeaseLeases and keep-alives are not checked at all.
struct LeaseHandler: Sendable {
    let backend: ServiceBackend
    let kv: ServiceBackend
    let identity: ClusterIdentity
    let gate: AuthGate?

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
        for call in Self.unaryCalls {
            table.raw("etcdserverpb.Lease", call.method) { request, context, respond in
                let forward: @Sendable () -> Void = {
                    backend.forward(
                        request, requestField: call.requestField, replyField: call.replyField,
                        limitSize: false, headerSuffix: suffix, completion: respond)
                }
                guard let gate, call.method == "LeaseGrant" || call.method == "LeaseRevoke" else { return forward() }
                gate.whenAllowed(context, { Self.requirement(call.method, request, kv: kv) }, respond: respond, body: forward)
            }
        }
        table.streaming("etcdserverpb.Lease", "LeaseKeepAlive") { _, writer in
            KeepAliveStream(backend: backend, writer: writer, headerSuffix: suffix)
        }
    }

    private static func requirement(_ method: String, _ request: [UInt8], kv: ServiceBackend) -> AuthGate.PendingRequirement {
        guard method == "LeaseRevoke" else { return .known(.validTokenIfAny) }
        guard let revoke = try? Etcdserverpb_LeaseRevokeRequest(serializedBytes: request) else { return .known(.authenticated) }
        var requirements = KeyRequirements()
        requirements.addKeys(of: revoke.id)
        return requirements.requirement(kv: kv)
    }
}

/// One client keep-alive stream. Its backlog bounds the keep-alives forwarded and not yet answered
/// to the client, so a client that sends keep-alives and never reads the answers is paused.
private final class KeepAliveStream: StreamingCall, Sendable {
    private let backend: ServiceBackend
    private let writer: StreamWriter
    private let headerSuffix: [UInt8]
    private let backlog: StreamBacklog
    /// Keep-alives forwarded and not answered yet, and whether the client has closed its side.
    private let progress = Mutex((pending: 0, clientDone: false))

    init(backend: ServiceBackend, writer: StreamWriter, headerSuffix: [UInt8]) {
        self.backend = backend
        self.writer = writer
        self.headerSuffix = headerSuffix
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
            case .success(let response): writer.send(response) { [backlog] in backlog.answered() }
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
