import Bus
import Dispatch
import EtceteraAPI
import KVClient
import Logging
import ServiceLifecycle
import ServiceSupport
import SwiftProtobuf
import Synchronization
import Watch

/// The watch fan-out on the bus: serves gateway sessions from a ``WatchHub`` fed by the kv event
/// stream, with history from the kv service for watchers that are behind.
///
/// Everything the hub sees happens on one serial queue: bus requests, stream messages, history
/// answers and timers are posted to it in arrival order, so the bus threads never wait on matching.
public final class WatchServer: Service, Sendable {
    public struct Configuration: Sendable {
        /// Where gateways open sessions (request/reply).
        public var listenEndpoint: String
        /// The kv service's request/reply endpoint (history and status).
        public var kvEndpoint: String
        /// The kv service's event stream.
        public var kvEventsEndpoint: String
        /// etcd's `--experimental-watch-progress-notify-interval` (default 10 minutes).
        public var progressNotifyInterval: Duration = .seconds(600)
        public var hub = WatchHub.Configuration()
        /// How many messages of the kv's event stream may wait for the hub before more are dropped.
        public var waitingEventLimit = 16_384

        public init(listenEndpoint: String, kvEndpoint: String, kvEventsEndpoint: String) {
            self.listenEndpoint = listenEndpoint
            self.kvEndpoint = kvEndpoint
            self.kvEventsEndpoint = kvEventsEndpoint
        }
    }

    private let configuration: Configuration
    private let logger: Logger
    private let server: BusServer
    private let kv: KVClient
    private let events: EventSubscriber
    private let queue = DispatchQueue(label: "watch-hub")
    private let state: QueueConfinedState

    public init(configuration: Configuration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        let queue = self.queue
        let state = QueueConfinedState()
        self.state = state
        let eventsWaiting = Atomic(0)
        let eventLimit = configuration.waitingEventLimit
        events = try EventSubscriber(connect: configuration.kvEventsEndpoint, logger: logger) { payloads in
            // Past the limit revisions are dropped rather than queued: the hub sees the gap at the
            // next one and reads what it missed from the kv's history, so a hub slower than the
            // writes costs history reads, never memory that grows with the write rate.
            let waiting = eventsWaiting.add(payloads.count, ordering: .relaxed).newValue
            let excess = min(payloads.count, max(0, waiting - eventLimit))
            if excess > 0 { eventsWaiting.subtract(excess, ordering: .relaxed) }
            let admitted = payloads.dropLast(excess)
            guard !admitted.isEmpty else { return }
            queue.async {
                eventsWaiting.subtract(admitted.count, ordering: .relaxed)
                for payload in admitted { state.eventArrived(payload) }
            }
        }
        kv = try KVClient(endpoint: configuration.kvEndpoint, logger: logger)
        server = try BusServer(bind: configuration.listenEndpoint, logger: logger)
    }

    public func run() async throws {
        // Subscribe first, then read where the store is: nothing committed in between is missed.
        guard let status = try await untilGracefulShutdown({ try await self.kv.waitForStatus() }) else {
            server.close()
            events.close()
            return kv.close()
        }
        queue.sync {
            state.start(WatchHub(
                currentRevision: status.revision,
                configuration: configuration.hub
            ) { [self] from, through in fetchHistory(from: from, through: through) })
        }
        logger.info("watch service serving", metadata: [
            "listen": "\(configuration.listenEndpoint)", "kv": "\(configuration.kvEndpoint)",
            "revision": "\(status.revision)",
        ])
        let timers = startTimers()
        defer { timers.forEach { $0.cancel() } }
        try await withGracefulShutdownHandler {
            try await server.run { self.handle($0) }
        } onGracefulShutdown: {
            self.server.close()
            self.events.close()
        }
        kv.close()
    }

    private func fetchHistory(from: Int64, through: Int64) {
        var request = Etcetera_Kv_KVRequest()
        request.events.startRevision = from
        request.events.endRevision = through
        request.events.maxRevisions = configuration.hub.revisionsPerFetch
        kv.request(request, timeout: .seconds(5), on: queue) { [self] result in
            guard let hub = state.hub else { return }
            if case .success(.events(let batch)) = result { return hub.historyArrived(batch) }
            logger.warning("history request failed; retrying", metadata: ["from": "\(from)", "result": "\(result)"])
            hub.historyFailed()
            queue.asyncAfter(deadline: .now() + .milliseconds(100)) { [state] in state.hub?.retryCatchUp() }
        }
    }

    private func startTimers() -> [any DispatchSourceTimer] {
        let housekeeping = DispatchSource.repeatingTimer(every: .seconds(1), on: queue) { [state, logger] in
            guard let hub = state.hub else { return }
            hub.reportSessionProgress()
            for id in hub.closeAbandonedSessions() {
                logger.info("closing abandoned session", metadata: ["session": "\(id)"])
                state.sessionStreams.removeValue(forKey: id)?.reply([])
            }
        }
        let progress = DispatchSource.repeatingTimer(every: configuration.progressNotifyInterval, on: queue) { [state] in
            state.hub?.progressTick()
        }
        return [housekeeping, progress]
    }

    /// Runs on the bus thread: decodes and posts to the hub's queue in arrival order.
    private func handle(_ incoming: BusIncomingRequest) {
        guard let request = try? Etcetera_Watch_WatchServiceRequest(serializedBytes: incoming.payload), let body = request.request else {
            logger.warning("dropping undecodable watch request", metadata: ["bytes": "\(incoming.payload.count)"])
            return incoming.reply(Self.reply(errorCode: "bus.malformed_request"))
        }
        queue.async { [state, queue] in
            guard let hub = state.hub else { return incoming.reply(Self.reply(errorCode: "watch.not_ready")) }
            do {
                switch body {
                case .open(let open):
                    state.sessionStreams.removeValue(forKey: open.session)?.reply([])
                    state.sessionStreams[open.session] = incoming
                    let outbox = SessionOutbox(stream: incoming, queue: queue)
                    hub.openSession(open) { output in outbox.add(output) }
                    return
                case .close(let close):
                    hub.closeSession(close.session)
                    state.sessionStreams.removeValue(forKey: close.session)?.reply([])
                case .add(let add): try hub.addWatcher(add)
                case .cancel(let cancel): try hub.cancelWatcher(cancel)
                case .progress(let progress): try hub.requestProgress(progress)
                case .credit(let credit): try hub.credit(credit)
                case .keep(let keep): hub.keep(keep.sessions)
                }
                incoming.reply(Self.reply(errorCode: nil))
            } catch {
                incoming.reply(Self.reply(errorCode: "watch.unknown_session"))
            }
        }
    }

    private static func reply(errorCode: String?) -> [UInt8] {
        var reply = Etcetera_Watch_WatchServiceReply()
        if let errorCode {
            reply.error.code = errorCode
        } else {
            reply.ack = .init()
        }
        return (try? reply.serializedBytes()) ?? []
    }
}

/// What only the hub's queue touches.
private final class QueueConfinedState: @unchecked Sendable {
    private(set) var hub: WatchHub?
    /// Events that arrived before the hub existed, applied when it starts (it ignores the ones at or
    /// below the revision it starts from).
    private var early: [[UInt8]] = []
    /// The open request of each session, answered (FINAL) when the session ends.
    var sessionStreams: [UInt64: BusIncomingRequest] = [:]

    func start(_ hub: WatchHub) {
        self.hub = hub
        for payload in early { eventArrived(payload) }
        early = []
    }

    /// A message of the kv's event stream: a committed revision or a heartbeat with the store's status.
    func eventArrived(_ payload: [UInt8]) {
        guard let hub else {
            // Past this many, the hub is better off catching up from history (it notices the gap).
            if early.count == 100_000 { early = [] }
            early.append(payload)
            return
        }
        guard let message = try? Etcetera_Kv_StreamMessage(serializedBytes: payload) else { return }
        switch message.message {
        case .revision(let revision): hub.apply(revision)
        case .heartbeat(let status): hub.storeStatus(revision: status.revision)
        case nil: break
        }
    }
}
