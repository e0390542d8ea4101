import CZeroMQ
import Logging

/// The I/O-thread side of an `EventPublisher`: a PUB socket; each command is one message to publish.
final class PublisherDriver: IODriver {
    typealias Command = [UInt8]

    private let context: ZMQContext
    private let socket: ZMQSocket
    private let logger: Logger

    init(endpoint: String, logger: Logger) throws(SetupFailure) {
        context = try ZMQContext()
        socket = try ZMQSocket(context: context, type: ZMQ_PUB)
        try socket.setOption(ZMQ_LINGER, 0)
        try socket.setOption(ZMQ_SNDHWM, busHighWaterMark)
        try socket.bind(endpoint)
        self.logger = logger
    }

    var pollSockets: [ZMQSocket] { [] }
    var pollGeneration: Int { 0 }

    func handle(_ payload: [UInt8], now: ContinuousClock.Instant) {
        let rc = socket.send(payload, more: false)
        if rc != 0 {
            logger.warning("event not published", metadata: ["error": "\(zmqErrorDescription(rc))"])
        }
    }

    func receiveAvailable(now: ContinuousClock.Instant) {}
    func serviceTimers(now: ContinuousClock.Instant) -> Duration? { nil }

    func shutdown(leftovers: [[UInt8]]) {
        socket.close()
        context.terminate()
    }
}
