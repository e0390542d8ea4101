import Bus
import EtceteraAPI
import Foundation
import GRPCWire
import Logging
import Synchronization

/// The gateway's side of the watch fan-out: one bus client per watch process, the choice of process
/// for each new Watch stream, and the sessions' keep-alive and delivery credits.
final class WatchBackend: Sendable {
    private let clients: [BusClient]
    private let endpoints: [String]
    let maxResponseBytes: Int
    let logger: Logger
    private let timeout: Duration
    private let nextChoice = Atomic<Int>(0)
    private let sessions = Mutex<[UInt64: WatchSession]>([:])

    init(endpoints: [String], maxResponseBytes: Int, timeout: Duration, logger: Logger) throws {
        self.endpoints = endpoints
        clients = try endpoints.map { try BusClient(connect: $0, logger: logger) }
        self.maxResponseBytes = maxResponseBytes
        self.timeout = timeout
        self.logger = logger
    }

    var isEmpty: Bool { clients.isEmpty }

    /// A process for a new or moved session: the next live one in turn, avoiding `excluded` when
    /// another is alive; any process when none looks alive (it may just be starting).
    func chooseProcess(excluding excluded: Int? = nil) -> Int {
        let start = nextChoice.wrappingAdd(1, ordering: .relaxed).oldValue
        let order = (0..<clients.count).map { (start + $0) % clients.count }
        return order.first { $0 != excluded && clients[$0].isPeerAlive }
            ?? order.first { clients[$0].isPeerAlive }
            ?? order[0]
    }

    func endpoint(of process: Int) -> String { endpoints[process] }

    /// Opens a session: the stream of its outputs.
    func open(
        _ open: Etcetera_Watch_OpenSession, on process: Int, onReply: @escaping @Sendable (StreamedReply) -> Void
    ) -> StreamingRequestHandle {
        var request = Etcetera_Watch_WatchServiceRequest()
        request.open = open
        // A session lasts as long as its client stream; the bus notices a dead process by heartbeats.
        return clients[process].streamingRequest(Self.encode(request), timeout: .seconds(100 * 365 * 86_400), onReply: onReply)
    }

    /// Sends a unary session request; `completion` says whether the process still has the session.
    func send(
        _ request: Etcetera_Watch_WatchServiceRequest, to process: Int,
        completion: (@Sendable (Result<Void, BusError>, _ sessionKnown: Bool) -> Void)? = nil
    ) {
        clients[process].request(Self.encode(request), timeout: timeout) { result in
            switch result {
            case .success(let bytes):
                let reply = try? Etcetera_Watch_WatchServiceReply(serializedBytes: bytes)
                let unknown = reply?.error.code == "watch.unknown_session"
                completion?(.success(()), !unknown)
            case .failure(let error):
                completion?(.failure(error), true)
            }
        }
    }

    func register(_ session: WatchSession) {
        sessions.withLock { $0[session.id] = session }
    }

    func unregister(_ session: WatchSession) {
        _ = sessions.withLock { $0.removeValue(forKey: session.id) }
    }

    /// Every second: tells each process which sessions this gateway still has there and hands back
    /// delivery credits that are waiting.
    func runKeepAlive() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(1))
            let current = sessions.withLock { Array($0.values) }
            var byProcess: [Int: [UInt64]] = [:]
            for session in current {
                session.flushCredit()
                if let process = session.currentProcess { byProcess[process, default: []].append(session.id) }
            }
            for (process, ids) in byProcess {
                var request = Etcetera_Watch_WatchServiceRequest()
                request.keep.sessions = ids
                send(request, to: process)
            }
        }
    }

    func close() {
        clients.forEach { $0.close() }
    }

    static func encode(_ request: Etcetera_Watch_WatchServiceRequest) -> [UInt8] {
        (try? request.serializedBytes()) ?? []
    }
}
