import Bus
import EtceteraAPI
import Foundation
import GRPCWire
import Logging
import Prometheus
import Synchronization

/// The gateway's side of the watch fan-out: one bus client per watch process, the choice of process
/// for each new Watch stream, and the sessions' keep-alive and delivery credits.
///
/// Processes come from `--watch` and, with a watch registry, from announcements at run time. The list
/// only grows, so a process's index stays valid for the sessions that name it; a process that went
/// away is simply never alive again (and is used again if its endpoint comes back).
final class WatchBackend: Sendable {
    private struct WatchProcess {
        let endpoint: String
        let client: BusClient
    }

    private let processes: Mutex<[WatchProcess]>
    /// Indices of the processes that answered at the last keep-alive round, to log changes once.
    private let liveAtLastRound = Mutex<Set<Int>>([])
    let maxResponseBytes: Int
    let logger: Logger
    private let timeout: Duration
    /// Where the time of each unary session request goes; nil: not measured.
    private let roundTrips: DurationHistogram?
    private let nextChoice = Atomic<Int>(0)
    private let sessions = Mutex<[UInt64: WatchSession]>([:])

    init(endpoints: [String], maxResponseBytes: Int, timeout: Duration, logger: Logger, roundTrips: DurationHistogram? = nil) throws {
        processes = Mutex(try endpoints.map { WatchProcess(endpoint: $0, client: try BusClient(connect: $0, logger: logger)) })
        self.maxResponseBytes = maxResponseBytes
        self.timeout = timeout
        self.logger = logger
        self.roundTrips = roundTrips
    }

    /// Starts using the watch process at `endpoint`, unless it is known already.
    func add(endpoint: String) throws {
        try processes.withLock { processes in
            guard !processes.contains(where: { $0.endpoint == endpoint }) else { return }
            processes.append(WatchProcess(endpoint: endpoint, client: try BusClient(connect: endpoint, logger: logger)))
            logger.info("watch process announced", metadata: ["endpoint": "\(endpoint)", "known": "\(processes.count)"])
        }
    }

    /// How many watch processes answer the bus's heartbeats, of how many the gateway knows.
    var liveProcesses: (live: Int, known: Int) {
        processes.withLock { processes in (processes.count { $0.client.isPeerAlive }, processes.count) }
    }

    /// The client Watch streams open here and the watchers created on them: etcd's
    /// `watch_stream_total` and `watcher_total`, as this gateway's clients see them.
    var openStreams: (streams: Int, watchers: Int) {
        let current = sessions.withLock { Array($0.values) }
        return (current.count, current.reduce(0) { $0 + $1.watcherCount })
    }

    /// A process for a new or moved session: the next live one in turn, avoiding `excluded` when
    /// another is alive; any process when none looks alive (it may just be starting); nil while no
    /// process is known at all.
    func chooseProcess(excluding excluded: Int? = nil) -> Int? {
        let alive = processes.withLock { $0.map(\.client.isPeerAlive) }
        guard !alive.isEmpty else { return nil }
        let start = nextChoice.wrappingAdd(1, ordering: .relaxed).oldValue
        let order = (0..<alive.count).map { (start + $0) % alive.count }
        return order.first { $0 != excluded && alive[$0] }
            ?? order.first { alive[$0] }
            ?? order[0]
    }

    func endpoint(of process: Int) -> String { processes.withLock { $0[process].endpoint } }

    private func client(_ process: Int) -> BusClient { processes.withLock { $0[process].client } }

    /// Opens a session: the stream of its outputs.
    func open(
        _ open: Etcetera_Watch_OpenSession, on process: Int, onReply: @escaping @Sendable (StreamedReply) -> Void
    ) -> StreamingRequestHandle {
        var request = Etcetera_Watch_WatchServiceRequest()
        request.open = open
        // A session lasts as long as its client stream; the bus notices a dead process by heartbeats.
        return client(process).streamingRequest(Self.encode(request), timeout: .seconds(100 * 365 * 86_400), onReply: onReply)
    }

    /// Sends a unary session request; `completion` says whether the process still has the session.
    func send(
        _ request: Etcetera_Watch_WatchServiceRequest, to process: Int,
        completion: (@Sendable (Result<Void, BusError>, _ sessionKnown: Bool) -> Void)? = nil
    ) {
        let sent = ContinuousClock.now
        client(process).request(Self.encode(request), timeout: timeout) { [roundTrips] result in
            roundTrips?.record(ContinuousClock.now - sent)
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

    /// Every second: tells each process which sessions this gateway still has there, hands back
    /// delivery credits that are waiting, and logs which processes came up or went away.
    func runKeepAlive() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(1))
            logLivenessChanges()
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

    /// Logs each process that became live or stopped answering since the last round, with the number
    /// of live processes: what an operator (and the tests) read to know where sessions can go.
    private func logLivenessChanges() {
        let current = processes.withLock { processes in
            (endpoints: processes.map(\.endpoint), live: Set(processes.indices.filter { processes[$0].client.isPeerAlive }))
        }
        let previous = liveAtLastRound.withLock { last in
            defer { last = current.live }
            return last
        }
        for index in current.live.subtracting(previous).sorted() {
            logger.info("watch process live", metadata: ["endpoint": "\(current.endpoints[index])", "live": "\(current.live.count)"])
        }
        for index in previous.subtracting(current.live).sorted() {
            logger.warning("watch process lost", metadata: ["endpoint": "\(current.endpoints[index])", "live": "\(current.live.count)"])
        }
    }

    func close() {
        processes.withLock { $0.forEach { $0.client.close() } }
    }

    static func encode(_ request: Etcetera_Watch_WatchServiceRequest) -> [UInt8] {
        (try? request.serializedBytes()) ?? []
    }
}
