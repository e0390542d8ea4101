import Auth
import Cluster
import EtceteraAPI
import GRPCWire
import Synchronization

/// etcd's Maintenance service: every call goes to the maintenance service, encoded as it came, and
/// its answer comes back complete (that service fills the headers etcd fills and leaves out those
/// etcd leaves out). Snapshot is a server stream pulled part by part, one part in flight at a time,
/// so a slow client slows the reading instead of filling the gateway's memory.
///
/// With auth on, Defragment, Snapshot, Hash and HashKV need the root role, as in etcd 3.4, and so do
/// Alarm ACTIVATE and DEACTIVATE, which etcd 3.4 lets anyone send (docs/auth.md). Alarm GET goes through
/// etcd's raft log, which refuses a token it cannot resolve but needs none; Status and MoveLeader need
/// nothing. etcd answers these refusals with the auth store's unmapped errors (`auth: permission
/// denied`, Unknown).
struct MaintenanceHandler: Sendable {
    let backend: ServiceBackend
    let gate: AuthGate?

    /// Field numbers of each call in `MaintenanceRequest` and `MaintenanceReply`
    /// (Protos/etcetera/maintenance_service.proto).
    static let statusCall = (method: "Status", requestField: 1, replyField: 2)
    private static let unaryCalls: [(method: String, requestField: Int, replyField: Int, long: Bool)] = [
        (statusCall.method, statusCall.requestField, statusCall.replyField, false),
        ("Alarm", 2, 3, false),
        ("Defragment", 3, 4, true),
        ("Hash", 4, 5, true),
        ("HashKV", 5, 6, true),
        ("MoveLeader", 7, 8, false),
    ]

    /// What a unary call needs once auth is on; nil for a call that is not checked. An alarm request
    /// that does not decode, or names an undefined action, needs the root role as a change would.
    private static func requirement(_ method: String, _ request: [UInt8]) -> AuthRequirement? {
        switch method {
        case "Defragment", "Hash", "HashKV":
            return .admin
        case "Alarm":
            let action = (try? Etcdserverpb_AlarmRequest(serializedBytes: request))?.action
            return action == .get ? .validTokenIfAny : .admin
        default:
            return nil
        }
    }

    func register(in table: inout MethodTable) {
        let backend = self.backend
        let gate = self.gate
        for call in Self.unaryCalls {
            table.raw("etcdserverpb.Maintenance", call.method) { request, context, respond in
                let forward: @Sendable () -> Void = {
                    backend.forward(
                        request, requestField: call.requestField, replyField: call.replyField, limitSize: false,
                        headerSuffix: [], timeout: call.long ? ServiceBackend.longOperationTimeout : nil, completion: respond)
                }
                guard let gate, let requirement = Self.requirement(call.method, request) else { return forward() }
                gate.whenAllowed(context, { .known(requirement) }, respond: { respond($0.mapError(ErrorMapping.unmappedAuthStatus)) }, body: forward)
            }
        }
        table.streaming("etcdserverpb.Maintenance", "Snapshot", type: .serverStream) { context, writer in
            var admission: (@Sendable () async -> GRPCStatus?)?
            if let gate {
                admission = { await gate.check(context, .admin).map(ErrorMapping.unmappedAuthStatus) }
            }
            return SnapshotStream(backend: backend, writer: writer, admission: admission)
        }
    }
}

/// etcd's Cluster service, answered by the maintenance service for the member. With auth on, changes
/// need the root role; MemberList needs nothing.
struct ClusterHandler: Sendable {
    let backend: ServiceBackend
    let gate: AuthGate?

    private static let calls: [(method: String, requestField: Int, replyField: Int)] = [
        ("MemberList", 8, 9),
        ("MemberAdd", 9, 10),
        ("MemberRemove", 10, 11),
        ("MemberUpdate", 11, 12),
        ("MemberPromote", 12, 13),
    ]

    func register(in table: inout MethodTable) {
        let backend = self.backend
        let gate = self.gate
        for call in Self.calls {
            table.raw("etcdserverpb.Cluster", call.method) { request, context, respond in
                let forward: @Sendable () -> Void = {
                    backend.forward(
                        request, requestField: call.requestField, replyField: call.replyField, limitSize: false,
                        headerSuffix: [], completion: respond)
                }
                guard let gate, call.method != "MemberList" else { return forward() }
                gate.whenAllowed(context, { .known(.admin) }, respond: respond, body: forward)
            }
        }
    }
}

/// One client's Snapshot stream. Each part read from the store becomes one `SnapshotResponse`, and
/// the next part is asked for once the previous one has left for the client. As in etcd, the
/// checksum that ends the file travels as a last message of its own with `remaining_bytes` 0.
private final class SnapshotStream: StreamingCall, Sendable {
    private let backend: ServiceBackend
    private let writer: StreamWriter
    /// Decides whether the caller may read a snapshot (nil: auth is not served); nil status = allowed.
    private let admission: (@Sendable () async -> GRPCStatus?)?
    /// Set once: the request arrived (a second message is ignored), or the client went away.
    private let state = Mutex((started: false, cancelled: false))

    /// `MaintenanceRequest.snapshot` and `MaintenanceReply.snapshot`.
    private static let requestField = 6
    private static let replyField = 7
    /// The size of the SHA-256 that ends a snapshot file (docs/snapshot.md).
    private static let checksumBytes: UInt64 = 32

    init(backend: ServiceBackend, writer: StreamWriter, admission: (@Sendable () async -> GRPCStatus?)?) {
        self.backend = backend
        self.writer = writer
        self.admission = admission
    }

    /// Later messages are ignored, so the stream never needs to pause its client.
    func received(_ message: [UInt8]) -> StreamDemand {
        let first = state.withLock { state in
            defer { state.started = true }
            return !state.started
        }
        guard first else { return .more }
        guard let admission else {
            fetch(id: 0, offset: 0)
            return .more
        }
        Task {
            if let status = await admission() { return writer.finish(status) }
            fetch(id: 0, offset: 0)
        }
        return .more
    }

    func clientFinished() {}

    func cancelled() {
        state.withLock { $0.cancelled = true }
    }

    private func fetch(id: UInt64, offset: UInt64) {
        var request = Etcetera_Kv_SnapshotRequest()
        request.id = id
        request.offset = offset
        let bytes: [UInt8] = (try? request.serializedBytes()) ?? []
        // The first part waits for the whole snapshot to be written.
        backend.forward(
            bytes, requestField: Self.requestField, replyField: Self.replyField, limitSize: false, headerSuffix: [],
            timeout: ServiceBackend.longOperationTimeout
        ) { [self] result in
            let part: Etcetera_Kv_SnapshotPart
            do {
                part = try Etcetera_Kv_SnapshotPart(serializedBytes: try result.get())
            } catch let status as GRPCStatus {
                return writer.finish(status)
            } catch {
                return writer.finish(GRPCStatus(code: .internalError, message: "etcetera: undecodable snapshot part"))
            }
            send(part)
        }
    }

    private func send(_ part: Etcetera_Kv_SnapshotPart) {
        let end = part.offset + UInt64(part.data.count)
        let bodyBytes = part.totalBytes > Self.checksumBytes ? part.totalBytes - Self.checksumBytes : 0
        var response = Etcdserverpb_SnapshotResponse()
        response.remainingBytes = end <= bodyBytes ? bodyBytes - end : 0
        response.blob = part.data
        let encoded: [UInt8] = (try? response.serializedBytes()) ?? []
        guard end < part.totalBytes, !part.data.isEmpty else {
            writer.send(encoded)
            return writer.finish(GRPCStatus(code: .ok, message: ""))
        }
        writer.send(encoded) { [self] in
            if !state.withLock({ $0.cancelled }) { fetch(id: part.id, offset: end) }
        }
    }
}
