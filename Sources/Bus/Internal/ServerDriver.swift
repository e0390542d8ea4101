import CZeroMQ
import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

enum ServerCommand: Sendable {
    /// Starts handing requests to `handler` (and calling `afterEachBatch` after each turn's requests);
    /// `finished` is resumed when the server has closed.
    case serve(
        handler: @Sendable (BusIncomingRequest) -> Void, afterEachBatch: (@Sendable () -> Void)?,
        finished: CheckedContinuation<Void, any Error>)
    case send(ServerReply)
}

struct ServerReply: Sendable {
    var identity: PeerIdentity
    var requestID: UInt64
    var command: WireCommand
    var status: UInt32
    var payload: [UInt8]
}

/// The I/O-thread side of a `BusServer`: a ROUTER socket bound to the endpoint.
final class ServerDriver: IODriver {
    typealias Command = ServerCommand

    private static let maximumMessagesPerTurn = 1024

    private let context: ZMQContext
    private let router: ZMQSocket
    /// Admits CURVE clients by key; nil when the endpoint does not use CURVE.
    private let zap: ZAPHandler?
    private let mailbox: Mailbox<ServerCommand>
    private let reader = FrameReader()
    private let logger: Logger
    private var drops: DropReporter
    private var handler: (@Sendable (BusIncomingRequest) -> Void)?
    private var afterEachBatch: (@Sendable () -> Void)?
    private var finished: CheckedContinuation<Void, any Error>?

    init(
        endpoint: String,
        configuration: BusServer.Configuration,
        mailbox: Mailbox<ServerCommand>,
        logger: Logger
    ) throws(SetupFailure) {
        context = try ZMQContext()
        router = try ZMQSocket(context: context, type: ZMQ_ROUTER)
        let heartbeat = Int32(clamping: configuration.heartbeatInterval.wireMilliseconds)
        try router.setOption(ZMQ_LINGER, 0)
        try router.setOption(ZMQ_ROUTER_MANDATORY, 1)
        try router.setOption(ZMQ_SNDHWM, busHighWaterMark)
        try router.setOption(ZMQ_RCVHWM, busHighWaterMark)
        try router.setOption(ZMQ_HEARTBEAT_IVL, heartbeat)
        try router.setOption(ZMQ_HEARTBEAT_TIMEOUT, heartbeat.multipliedReportingOverflow(by: 3).partialValue)
        if let keys = try router.applyCurve(configuration.curve, as: .server, endpoint: endpoint) {
            zap = try ZAPHandler(context: context, admitting: keys.admittedClientKeys, logger: logger)
        } else {
            zap = nil
        }
        try router.bind(endpoint)
        self.mailbox = mailbox
        self.logger = logger
        self.drops = DropReporter(logger: logger)
    }

    /// The ZAP socket is polled from the start, so handshakes complete even before `run(handler:)`.
    var pollSockets: [ZMQSocket] { (handler == nil ? [] : [router]) + (zap.map { [$0.socket] } ?? []) }
    var pollGeneration: Int { handler == nil ? 0 : 1 }

    func handle(_ command: ServerCommand, now: ContinuousClock.Instant) {
        switch command {
        case .serve(let handler, let afterEachBatch, let finished):
            guard self.handler == nil else {
                finished.resume(throwing: BusError.closed("run() was already called on this server"))
                return
            }
            self.handler = handler
            self.afterEachBatch = afterEachBatch
            self.finished = finished
        case .send(let reply):
            send(reply)
        }
    }

    private func send(_ reply: ServerReply) {
        var rc = reply.identity.withBytes { router.send($0, more: true) }
        if rc == 0 {
            let header = WireHeader(reply.command, requestID: reply.requestID, argument: reply.status)
            rc = header.withEncodedBytes { router.send($0, more: true) }
            if rc == 0 { rc = router.send(reply.payload, more: false) }
        }
        if rc == EHOSTUNREACH {
            logger.debug("reply dropped: client disconnected", metadata: ["request-id": "\(reply.requestID)"])
        } else if rc != 0 {
            logger.warning(
                "reply dropped",
                metadata: ["request-id": "\(reply.requestID)", "error": "\(zmqErrorDescription(rc))"])
        }
    }

    private func sendPong(to identity: PeerIdentity, id: UInt64) {
        var rc = identity.withBytes { router.send($0, more: true) }
        if rc == 0 { rc = WireHeader(.pong, requestID: id).withEncodedBytes { router.send($0, more: false) } }
        if rc != 0 && rc != EHOSTUNREACH {
            logger.debug("pong dropped", metadata: ["error": "\(zmqErrorDescription(rc))"])
        }
    }

    func receiveAvailable(now: ContinuousClock.Instant) {
        zap?.answerPending(now: now)
        guard let handler else { return }
        var handedOver = false
        defer { if handedOver { afterEachBatch?() } }
        for _ in 0..<Self.maximumMessagesPerTurn {
            switch reader.receive(from: router) {
            case .frame: break
            case .wouldBlock: return
            case .failed(let code):
                logger.error("receive failed", metadata: ["error": "\(zmqErrorDescription(code))"])
                return
            }
            let identity = reader.withBytes { PeerIdentity($0) }
            guard reader.hasMore, case .frame = reader.receive(from: router) else {
                drops.drop("empty message", now: now)
                continue
            }
            let header: WireHeader
            switch reader.withBytes({ WireHeader.parse($0) }) {
            case .success(let parsed): header = parsed
            case .failure(let error):
                let extra = reader.skipRest(of: router)
                drops.drop("\(error) (\(extra + 2) frames)", now: now)
                continue
            }
            switch header.command {
            case .request:
                guard reader.hasMore, case .frame = reader.receive(from: router) else {
                    drops.drop("REQUEST without a payload frame", now: now)
                    continue
                }
                guard !reader.hasMore else {
                    let extra = reader.skipRest(of: router)
                    drops.drop("REQUEST with \(extra) extra frames", now: now)
                    continue
                }
                guard header.argument > 0 else {
                    // Sent with no time left: the client has already given up on it.
                    logger.debug("dropped a request whose deadline had passed", metadata: ["request-id": "\(header.requestID)"])
                    continue
                }
                let context = ReplyContext(identity: identity, requestID: header.requestID, mailbox: mailbox)
                let deadline = now.advanced(by: .milliseconds(header.argument))
                handler(BusIncomingRequest(payload: reader.copyBytes(), deadline: deadline, context: context))
                handedOver = true
            case .ping:
                guard !reader.hasMore else {
                    let extra = reader.skipRest(of: router)
                    drops.drop("PING with \(extra) extra frames", now: now)
                    continue
                }
                sendPong(to: identity, id: header.requestID)
            case .partial, .final, .pong:
                let extra = reader.skipRest(of: router)
                drops.drop("command \(header.command) sent to a server (\(extra + 2) frames)", now: now)
            }
        }
    }

    func serviceTimers(now: ContinuousClock.Instant) -> Duration? { nil }

    func shutdown(leftovers: [ServerCommand]) {
        handler = nil
        afterEachBatch = nil
        router.close()
        zap?.close()
        context.terminate()
        for command in leftovers {
            if case .serve(_, _, let finished) = command { finished.resume() }
        }
        finished?.resume()
        finished = nil
    }
}

/// The send and receive high-water mark of every bus socket, in messages.
let busHighWaterMark: Int32 = 100_000
