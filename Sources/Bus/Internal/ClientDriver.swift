import CZeroMQ
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

enum ClientCommand: Sendable {
    case request(ClientRequest)
    case cancel(requestID: UInt64)
}

struct ClientRequest: Sendable {
    var id: UInt64
    var payload: [UInt8]
    var deadline: ContinuousClock.Instant
    var sink: ReplySink
}

/// Where the replies to one request go.
enum ReplySink: Sendable {
    case single(UnsafeContinuation<Result<[UInt8], BusError>, Never>)
    case callback(@Sendable (Result<[UInt8], BusError>) -> Void)
    case streamed(@Sendable (StreamedReply) -> Void)

    func fail(_ error: BusError) {
        switch self {
        case .single(let continuation): continuation.resume(returning: .failure(error))
        case .callback(let completion): completion(.failure(error))
        case .streamed(let onReply): onReply(.failed(error))
        }
    }
}

/// State shared between a `BusClient` and its I/O thread.
final class ClientShared: Sendable {
    let mailbox: Mailbox<ClientCommand>
    let nextRequestID = Atomic<UInt64>(1)
    let peerAlive = Atomic(false)

    init(mailbox: Mailbox<ClientCommand>) {
        self.mailbox = mailbox
    }
}

/// The I/O-thread side of a `BusClient`: a DEALER socket connected to the server, a PAIR socket receiving
/// the DEALER's connection events (`zmq_socket_monitor`), the table of requests in flight, their deadlines,
/// and the heartbeat state.
final class ClientDriver: IODriver {
    typealias Command = ClientCommand

    private static let maximumMessagesPerTurn = 1024
    private static let monitoredEvents =
        ZMQ_EVENT_CONNECT_RETRIED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED
        | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
        | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH

    private struct Pending {
        var sink: ReplySink
        var deadline: ContinuousClock.Instant
        /// Before sending: the request payload. After: the partial replies received so far (single replies).
        var buffer: [UInt8]
        var sent: Bool
    }

    private enum ConnectionState {
        /// Waiting for the outcome of a connection attempt; requests are held, at most one heartbeat interval.
        case connecting(since: ContinuousClock.Instant)
        case connected
        /// No connection: requests fail at once (the DEALER refuses them: `ZMQ_IMMEDIATE`).
        case disconnected
    }

    private let endpoint: String
    private let curve: BusCurveKeys?
    private let heartbeatInterval: Duration
    private let deadAfter: Duration
    private let shared: ClientShared
    private let logger: Logger
    private var drops: DropReporter
    private let reader = FrameReader()

    private let context: ZMQContext
    private var dealer: ZMQSocket
    private var monitor: ZMQSocket
    private var socketGeneration = 0

    private var pending: [UInt64: Pending] = [:]
    private var held: [UInt64] = []
    private var sentCount = 0
    private var deadlines = DeadlineQueue()
    private var state: ConnectionState

    private var lastSent: ContinuousClock.Instant?
    private var lastReceived: ContinuousClock.Instant?
    private var expectingSince: ContinuousClock.Instant?
    private var pingOutstanding = false
    private var nextPingID: UInt64 = 0

    init(
        endpoint: String,
        configuration: BusClient.Configuration,
        shared: ClientShared,
        logger: Logger
    ) throws(SetupFailure) {
        self.endpoint = endpoint
        self.heartbeatInterval = max(configuration.heartbeatInterval, .milliseconds(1))
        self.deadAfter = self.heartbeatInterval * max(configuration.missedHeartbeatsBeforeDead, 1)
        self.shared = shared
        self.logger = logger
        self.drops = DropReporter(logger: logger)
        self.context = try ZMQContext()
        self.curve = configuration.curve
        (dealer, monitor) = try Self.makeSockets(context: context, endpoint: endpoint, curve: curve, generation: 0)
        state = .connecting(since: .now)
    }

    private static func makeSockets(
        context: ZMQContext,
        endpoint: String,
        curve: BusCurveKeys?,
        generation: Int
    ) throws(SetupFailure) -> (dealer: ZMQSocket, monitor: ZMQSocket) {
        let dealer = try ZMQSocket(context: context, type: ZMQ_DEALER)
        try dealer.setOption(ZMQ_LINGER, 0)
        try dealer.setOption(ZMQ_IMMEDIATE, 1)
        try dealer.setOption(ZMQ_RECONNECT_IVL, 100)
        try dealer.setOption(ZMQ_SNDHWM, busHighWaterMark)
        try dealer.setOption(ZMQ_RCVHWM, busHighWaterMark)
        let monitorEndpoint = "inproc://etcetera-bus-monitor-\(generation)"
        guard zmq_socket_monitor(dealer.handle, monitorEndpoint, monitoredEvents) == 0 else {
            throw SetupFailure.zmq("zmq_socket_monitor")
        }
        let monitor = try ZMQSocket(context: context, type: ZMQ_PAIR)
        try monitor.setOption(ZMQ_LINGER, 0)
        try monitor.connect(monitorEndpoint)
        _ = try dealer.applyCurve(curve, as: .client, endpoint: endpoint)
        try dealer.connect(endpoint)
        return (dealer, monitor)
    }

    private func closeSockets() {
        zmq_socket_monitor(dealer.handle, nil, 0)
        monitor.close()
        dealer.close()
    }

    var pollSockets: [ZMQSocket] { [dealer, monitor] }
    var pollGeneration: Int { socketGeneration }

    // MARK: Commands

    func handle(_ command: ClientCommand, now: ContinuousClock.Instant) {
        switch command {
        case .request(let request):
            guard request.deadline > now else {
                request.sink.fail(.deadlineExceeded)
                return
            }
            deadlines.insert(.init(deadline: request.deadline, requestID: request.id))
            if case .connecting = state {
                pending[request.id] = Pending(
                    sink: request.sink, deadline: request.deadline, buffer: request.payload, sent: false)
                held.append(request.id)
            } else {
                transmit(id: request.id, payload: request.payload, deadline: request.deadline,
                         sink: request.sink, now: now)
            }
        case .cancel(let id):
            guard let entry = removePending(id) else { return }
            entry.sink.fail(.cancelled)
        }
    }

    /// Sends a request; on success it becomes pending, otherwise it fails with `unavailable`.
    private func transmit(
        id: UInt64,
        payload: [UInt8],
        deadline: ContinuousClock.Instant,
        sink: ReplySink,
        now: ContinuousClock.Instant
    ) {
        let header = WireHeader(.request, requestID: id, argument: (deadline - now).wireMilliseconds)
        var rc = header.withEncodedBytes { dealer.send($0, more: true) }
        if rc == EAGAIN {
            dealer.processPendingCommands()
            rc = header.withEncodedBytes { dealer.send($0, more: true) }
        }
        if rc == 0 { rc = dealer.send(payload, more: false) }
        guard rc == 0 else {
            if rc == EAGAIN { setPeerAlive(false) }
            let reason = rc == EAGAIN ? "not connected to \(endpoint)" : zmqErrorDescription(rc)
            sink.fail(.unavailable(reason))
            return
        }
        beginExpecting(now)
        pending[id] = Pending(sink: sink, deadline: deadline, buffer: [], sent: true)
        sentCount += 1
        lastSent = now
    }

    private func removePending(_ id: UInt64) -> Pending? {
        guard let entry = pending.removeValue(forKey: id) else { return nil }
        if entry.sent { sentCount -= 1 }
        return entry
    }

    private func beginExpecting(_ now: ContinuousClock.Instant) {
        if sentCount == 0 && !pingOutstanding { expectingSince = now }
    }

    private func setPeerAlive(_ alive: Bool) {
        if shared.peerAlive.load(ordering: .relaxed) != alive {
            shared.peerAlive.store(alive, ordering: .relaxed)
        }
    }

    // MARK: Receiving

    func receiveAvailable(now: ContinuousClock.Instant) {
        receiveReplies(now: now)
        receiveConnectionEvents(now: now)
    }

    private func receiveReplies(now: ContinuousClock.Instant) {
        for _ in 0..<Self.maximumMessagesPerTurn {
            switch reader.receive(from: dealer) {
            case .frame: break
            case .wouldBlock: return
            case .failed(let code):
                logger.error("receive failed", metadata: ["error": "\(zmqErrorDescription(code))"])
                return
            }
            let header: WireHeader
            switch reader.withBytes({ WireHeader.parse($0) }) {
            case .success(let parsed): header = parsed
            case .failure(let error):
                let extra = reader.skipRest(of: dealer)
                drops.drop("\(error) (\(extra + 1) frames)", now: now)
                continue
            }
            switch header.command {
            case .pong:
                guard !reader.hasMore else {
                    let extra = reader.skipRest(of: dealer)
                    drops.drop("PONG with \(extra) extra frames", now: now)
                    continue
                }
                heardFromPeer(now)
            case .partial, .final:
                guard reader.hasMore, case .frame = reader.receive(from: dealer) else {
                    drops.drop("\(header.command) without a payload frame", now: now)
                    continue
                }
                guard !reader.hasMore else {
                    let extra = reader.skipRest(of: dealer)
                    drops.drop("\(header.command) with \(extra) extra frames", now: now)
                    continue
                }
                heardFromPeer(now)
                if header.command == .partial {
                    deliverPartial(id: header.requestID)
                } else {
                    deliverFinal(id: header.requestID, status: header.argument)
                }
            case .request, .ping:
                let extra = reader.skipRest(of: dealer)
                drops.drop("command \(header.command) sent to a client (\(extra + 1) frames)", now: now)
            }
        }
    }

    private func heardFromPeer(_ now: ContinuousClock.Instant) {
        lastReceived = now
        pingOutstanding = false
        setPeerAlive(true)
    }

    private func deliverPartial(id: UInt64) {
        guard let entry = pending[id], entry.sent else {
            logger.trace("partial reply for an unknown or finished request", metadata: ["request-id": "\(id)"])
            return
        }
        switch entry.sink {
        case .single, .callback:
            reader.withBytes { pending[id]?.buffer.append(contentsOf: $0) }
        case .streamed(let onReply):
            onReply(.partial(reader.copyBytes()))
        }
    }

    private func deliverFinal(id: UInt64, status: UInt32) {
        guard pending[id]?.sent == true, let entry = removePending(id) else {
            logger.trace("final reply for an unknown or finished request", metadata: ["request-id": "\(id)"])
            return
        }
        guard status == ReplyStatus.ok.rawValue else {
            entry.sink.fail(
                status == ReplyStatus.overloaded.rawValue
                    ? .overloaded : .unavailable("the server dropped the request (status \(status))"))
            return
        }
        func completeReply() -> [UInt8] {
            var reply = entry.buffer
            if reply.isEmpty {
                reply = reader.copyBytes()
            } else {
                reader.withBytes { reply.append(contentsOf: $0) }
            }
            return reply
        }
        switch entry.sink {
        case .single(let continuation):
            continuation.resume(returning: .success(completeReply()))
        case .callback(let completion):
            completion(.success(completeReply()))
        case .streamed(let onReply):
            onReply(.final(reader.copyBytes()))
        }
    }

    private func receiveConnectionEvents(now: ContinuousClock.Instant) {
        while case .frame = reader.receive(from: monitor) {
            let event: Int32? = reader.withBytes { bytes in
                bytes.count >= 6 ? Int32(bytes.loadUnaligned(as: UInt16.self)) : nil
            }
            reader.skipRest(of: monitor)
            guard let event else { continue }
            switch event {
            case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
                connectionEstablished(now)
            case ZMQ_EVENT_CONNECT_RETRIED:
                if case .connecting = state {
                    state = .disconnected
                    failHeld(.unavailable("no server at \(endpoint)"))
                }
            default:
                logger.debug("connection to server lost", metadata: ["event": "\(event)"])
                connectionLost(.unavailable("connection to \(endpoint) lost"))
                state = .disconnected
            }
        }
    }

    private func connectionEstablished(_ now: ContinuousClock.Instant) {
        logger.debug("connected to server")
        state = .connected
        dealer.processPendingCommands()
        let ids = held
        held.removeAll()
        for id in ids {
            guard let entry = pending[id], !entry.sent else { continue }
            pending[id] = nil
            transmit(id: id, payload: entry.buffer, deadline: entry.deadline, sink: entry.sink, now: now)
        }
        sendPing(now)
    }

    private func failHeld(_ error: BusError) {
        let ids = held
        held.removeAll()
        for id in ids {
            guard let entry = pending[id], !entry.sent else { continue }
            pending[id] = nil
            entry.sink.fail(error)
        }
    }

    /// The server went away: every request in flight is lost.
    private func connectionLost(_ error: BusError) {
        let entries = pending
        pending.removeAll()
        held.removeAll()
        sentCount = 0
        pingOutstanding = false
        expectingSince = nil
        setPeerAlive(false)
        for entry in entries.values { entry.sink.fail(error) }
    }

    // MARK: Timers

    func serviceTimers(now: ContinuousClock.Instant) -> Duration? {
        while let earliest = deadlines.earliest, earliest.deadline <= now {
            _ = deadlines.removeEarliest()
            if let entry = pending[earliest.requestID], entry.deadline <= now {
                removePending(earliest.requestID)?.sink.fail(.deadlineExceeded)
            }
        }
        if deadlines.count > 64 && deadlines.count > 2 * pending.count {
            deadlines.rebuild(from: pending.lazy.map { .init(deadline: $0.value.deadline, requestID: $0.key) })
        }

        if case .connecting(let since) = state, now - since >= heartbeatInterval {
            state = .disconnected
            failHeld(.unavailable("no connection to \(endpoint)"))
        }

        if sentCount > 0 || pingOutstanding, let expectingSince {
            let silentSince = max(expectingSince, lastReceived ?? expectingSince)
            if now - silentSince >= deadAfter { peerDied(now) }
        }

        if lastSent.map({ now - $0 >= heartbeatInterval }) ?? true {
            sendPing(now)
        } else if let silentSince = unansweredSince, now - silentSince >= heartbeatInterval {
            // Busy sending but hearing nothing: ask the server's I/O thread directly, so that a server
            // slow to answer requests is not taken for a dead one.
            sendPing(now)
        }

        var wake = (lastSent ?? now) + heartbeatInterval
        if let silentSince = unansweredSince { wake = min(wake, silentSince + heartbeatInterval) }
        if let earliest = deadlines.earliest { wake = min(wake, earliest.deadline) }
        if case .connecting(let since) = state { wake = min(wake, since + heartbeatInterval) }
        if sentCount > 0 || pingOutstanding, let expectingSince {
            wake = min(wake, max(expectingSince, lastReceived ?? expectingSince) + deadAfter)
        }
        return wake - now
    }

    /// Since when requests have been waiting with nothing heard and no PING out, if they have.
    private var unansweredSince: ContinuousClock.Instant? {
        guard sentCount > 0, !pingOutstanding, let expectingSince else { return nil }
        return max(expectingSince, lastReceived ?? expectingSince)
    }

    private func sendPing(_ now: ContinuousClock.Instant) {
        lastSent = now
        nextPingID &+= 1
        let rc = WireHeader(.ping, requestID: nextPingID).withEncodedBytes { dealer.send($0, more: false) }
        guard rc == 0 else {
            setPeerAlive(false)
            return
        }
        beginExpecting(now)
        pingOutstanding = true
    }

    /// Nothing heard for `missedHeartbeatsBeforeDead` intervals while waiting: fail everything in flight and
    /// start over with a fresh socket, so nothing queued for the dead connection is delivered late.
    private func peerDied(_ now: ContinuousClock.Instant) {
        logger.warning(
            "server missed its heartbeats; failing requests in flight and reconnecting",
            metadata: ["in-flight": "\(sentCount)"])
        connectionLost(.unavailable("\(endpoint) stopped answering heartbeats"))
        closeSockets()
        socketGeneration += 1
        do {
            (dealer, monitor) = try Self.makeSockets(context: context, endpoint: endpoint, curve: curve, generation: socketGeneration)
        } catch {
            logger.error("cannot recreate the client socket", metadata: ["error": "\(error.reason)"])
        }
        state = .connecting(since: now)
    }

    // MARK: Shutdown

    func shutdown(leftovers: [ClientCommand]) {
        connectionLost(.closed)
        for case .request(let request) in leftovers {
            request.sink.fail(.closed)
        }
        closeSockets()
        context.terminate()
    }
}
