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
/// Processes come from `--watch` and, with a watch registry, from announcements at run time. A
/// process keeps its index for the sessions that name it; one that went away is not chosen while it
/// is not alive (and is used again if its endpoint comes back). The registry holds at most
/// `maximumAnnouncedProcesses` announced processes, and an announced process silent for
/// `forgetAfter` with no session on it is forgotten: its bus client (a thread and sockets) is
/// closed, and its index can take the next announced process.
final class WatchBackend: Sendable {
    private struct WatchProcess {
        var endpoint: String
        /// nil once forgotten.
        var client: BusClient?
        /// Whether it came from an announcement rather than `--watch`; only those are forgotten.
        let announced: Bool
        var lastAlive: ContinuousClock.Instant
    }

    /// Announcements beyond this many known announced processes are refused.
    static let maximumAnnouncedProcesses = 64
    /// An announced process silent this long with no session on it is forgotten.
    static let forgetAfter: Duration = .seconds(60)

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
        processes = Mutex(try endpoints.map {
            WatchProcess(endpoint: $0, client: try BusClient(connect: $0, logger: logger), announced: false, lastAlive: .now)
        })
        self.maxResponseBytes = maxResponseBytes
        self.timeout = timeout
        self.logger = logger
        self.roundTrips = roundTrips
    }

    /// Starts using the announced watch process at `endpoint`, unless it is known already; in the index
    /// of a forgotten process if there is one.
    /// - Throws: `WatchRegistryFull` when `maximumAnnouncedProcesses` announced processes are known.
    func add(endpoint: String) throws {
        try processes.withLock { processes in
            if let known = processes.firstIndex(where: { $0.endpoint == endpoint && $0.client != nil }) {
                processes[known].lastAlive = .now
                return
            }
            guard processes.count(where: { $0.announced && $0.client != nil }) < Self.maximumAnnouncedProcesses else {
                throw WatchRegistryFull(limit: Self.maximumAnnouncedProcesses)
            }
            let process = WatchProcess(
                endpoint: endpoint, client: try BusClient(connect: endpoint, logger: logger), announced: true, lastAlive: .now)
            if let forgotten = processes.firstIndex(where: { $0.client == nil }) {
                processes[forgotten] = process
            } else {
                processes.append(process)
            }
            logger.info("watch process announced", metadata: ["endpoint": "\(endpoint)", "known": "\(processes.count { $0.client != nil })"])
        }
    }

    /// How many watch processes answer the bus's heartbeats, of how many the gateway knows.
    var liveProcesses: (live: Int, known: Int) {
        processes.withLock { processes in
            (processes.count { $0.client?.isPeerAlive == true }, processes.count { $0.client != nil })
        }
    }

    /// Forgets the announced processes silent for `forgetAfter` that no session of `sessionsByProcess`
    /// is on, closing their bus clients outside the lock.
    private func forgetSilentProcesses(sessionsByProcess: [Int: [UInt64]], now: ContinuousClock.Instant) {
        let forgotten = processes.withLock { processes -> [(String, BusClient)] in
            var forgotten: [(String, BusClient)] = []
            for index in processes.indices {
                guard let client = processes[index].client else { continue }
                if client.isPeerAlive {
                    processes[index].lastAlive = now
                } else if processes[index].announced, sessionsByProcess[index] == nil, now - processes[index].lastAlive >= Self.forgetAfter {
                    processes[index].client = nil
                    forgotten.append((processes[index].endpoint, client))
                }
            }
            return forgotten
        }
        for (endpoint, client) in forgotten {
            client.close()
            logger.info("watch process forgotten: silent and unused", metadata: ["endpoint": "\(endpoint)", "after": "\(Self.forgetAfter)"])
        }
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
        let (known, alive) = processes.withLock { processes in
            (processes.map { $0.client != nil }, processes.map { $0.client?.isPeerAlive == true })
        }
        guard !alive.isEmpty else { return nil }
        let start = nextChoice.wrappingAdd(1, ordering: .relaxed).oldValue
        let order = (0..<alive.count).map { (start + $0) % alive.count }
        return order.first { $0 != excluded && alive[$0] }
            ?? order.first { alive[$0] }
            ?? order.first { known[$0] }
    }

    func endpoint(of process: Int) -> String { processes.withLock { $0[process].endpoint } }

    private func client(_ process: Int) -> BusClient? { processes.withLock { $0[process].client } }

    /// Opens a session: the stream of its outputs.
    func open(
        _ open: Etcetera_Watch_OpenSession, on process: Int, onReply: @escaping @Sendable (StreamedReply) -> Void
    ) -> StreamingRequestHandle? {
        var request = Etcetera_Watch_WatchServiceRequest()
        request.open = open
        // A session lasts as long as its client stream; the bus notices a dead process by heartbeats.
        guard let client = client(process) else {
            onReply(.failed(.unavailable))
            return nil
        }
        return client.streamingRequest(Self.encode(request), timeout: .seconds(100 * 365 * 86_400), onReply: onReply)
    }

    /// Sends a unary session request; `completion` says whether the process still has the session.
    func send(
        _ request: Etcetera_Watch_WatchServiceRequest, to process: Int,
        completion: (@Sendable (Result<Void, BusError>, _ sessionKnown: Bool) -> Void)? = nil
    ) {
        let sent = ContinuousClock.now
        guard let client = client(process) else {
            completion?(.failure(.unavailable), true)
            return
        }
        client.request(Self.encode(request), timeout: timeout) { [roundTrips] result in
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
            forgetSilentProcesses(sessionsByProcess: byProcess, now: .now)
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
            (endpoints: processes.map(\.endpoint), live: Set(processes.indices.filter { processes[$0].client?.isPeerAlive == true }))
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
        processes.withLock { $0.forEach { $0.client?.close() } }
    }

    static func encode(_ request: Etcetera_Watch_WatchServiceRequest) -> [UInt8] {
        (try? request.serializedBytes()) ?? []
    }
}
