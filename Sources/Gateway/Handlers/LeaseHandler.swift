import EtceteraAPI
import GRPCWire

/// etcd's Lease service: forwards each call to the lease service, encoded as it came, and completes
/// the response header. Keep-alive is a bidirectional stream: every request is forwarded in order
/// and each answer written back as it comes.
struct LeaseHandler: Sendable {
    let backend: ServiceBackend
    let identity: ClusterIdentity

    /// Field numbers of each call in `LeaseRequest` and `LeaseReply` (Protos/etcetera/lease_service.proto).
    private static let unaryCalls: [(method: String, requestField: Int, replyField: Int)] = [
        ("LeaseGrant", 1, 2),
        ("LeaseRevoke", 2, 3),
        ("LeaseTimeToLive", 4, 5),
        ("LeaseLeases", 5, 6),
    ]

    func register(in table: inout MethodTable) {
        let backend = self.backend
        let suffix = identity.headerFieldSuffix
        for call in Self.unaryCalls {
            table.raw("etcdserverpb.Lease", call.method) { request, _, respond in
                backend.forward(
                    request, requestField: call.requestField, replyField: call.replyField,
                    limitSize: false, headerSuffix: suffix, completion: respond)
            }
        }
        table.streaming("etcdserverpb.Lease", "LeaseKeepAlive") { _, writer in
            KeepAliveStream(backend: backend, writer: writer, headerSuffix: suffix)
        }
    }
}

/// One client keep-alive stream.
private final class KeepAliveStream: StreamingCall, Sendable {
    private let backend: ServiceBackend
    private let writer: StreamWriter
    private let headerSuffix: [UInt8]

    init(backend: ServiceBackend, writer: StreamWriter, headerSuffix: [UInt8]) {
        self.backend = backend
        self.writer = writer
        self.headerSuffix = headerSuffix
    }

    func received(_ message: [UInt8]) {
        backend.forward(
            message, requestField: Self.keepAliveRequestField, replyField: Self.keepAliveReplyField,
            limitSize: false, headerSuffix: headerSuffix
        ) { [writer] result in
            switch result {
            case .success(let response): writer.send(response)
            case .failure(let status): writer.finish(status)
            }
        }
    }

    func clientFinished() {}

    func cancelled() {}

    /// `LeaseRequest.keep_alive` and `LeaseReply.keep_alive`.
    private static let keepAliveRequestField = 3
    private static let keepAliveReplyField = 4
}
