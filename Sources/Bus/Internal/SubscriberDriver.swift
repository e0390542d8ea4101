import CZeroMQ
import Logging

/// The I/O-thread side of an `EventSubscriber`: a SUB socket subscribed to everything, handing the
/// messages of each turn to the subscriber's callback together.
final class SubscriberDriver: IODriver {
    typealias Command = Never

    private static let maximumMessagesPerTurn = 1024

    private let context: ZMQContext
    private let socket: ZMQSocket
    private let onMessages: @Sendable ([[UInt8]]) -> Void
    private let onClose: @Sendable () -> Void
    private let reader = FrameReader()
    private var drops: DropReporter
    private let logger: Logger

    init(
        endpoint: String, curve: BusCurveKeys?, onMessages: @escaping @Sendable ([[UInt8]]) -> Void, onClose: @escaping @Sendable () -> Void,
        logger: Logger
    ) throws(SetupFailure) {
        context = try ZMQContext()
        socket = try ZMQSocket(context: context, type: ZMQ_SUB)
        try socket.setOption(ZMQ_LINGER, 0)
        try socket.setOption(ZMQ_RCVHWM, busHighWaterMark)
        try socket.setOption(ZMQ_RECONNECT_IVL, 100)
        try socket.setOption(ZMQ_SUBSCRIBE, bytes: [])
        _ = try socket.applyCurve(curve, as: .client, endpoint: endpoint)
        try socket.connect(endpoint)
        self.onMessages = onMessages
        self.onClose = onClose
        self.logger = logger
        self.drops = DropReporter(logger: logger)
    }

    var pollSockets: [ZMQSocket] { [socket] }
    var pollGeneration: Int { 0 }

    func handle(_ command: Never, now: ContinuousClock.Instant) {}

    func receiveAvailable(now: ContinuousClock.Instant) {
        var messages: [[UInt8]] = []
        defer { if !messages.isEmpty { onMessages(messages) } }
        for _ in 0..<Self.maximumMessagesPerTurn {
            switch reader.receive(from: socket) {
            case .frame: break
            case .wouldBlock: return
            case .failed(let code):
                logger.error("receive failed", metadata: ["error": "\(zmqErrorDescription(code))"])
                return
            }
            guard !reader.hasMore else {
                let extra = reader.skipRest(of: socket)
                drops.drop("event message of \(extra + 1) frames, expected 1", now: now)
                continue
            }
            messages.append(reader.copyBytes())
        }
    }

    func serviceTimers(now: ContinuousClock.Instant) -> Duration? { nil }

    func shutdown(leftovers: [Never]) {
        socket.close()
        context.terminate()
        onClose()
    }
}
