import CZeroMQ
import Logging

/// ZeroMQ's authentication protocol (ZAP, rfc.zeromq.org 27/ZAP) for the CURVE server sockets of one
/// context: libzmq asks `inproc://zeromq.zap.01` of the socket's context about every CURVE handshake,
/// with the client's public key, and completes the handshake only on status 200. This handler admits
/// the keys of ``BusCurveKeys/admittedClientKeys`` and refuses every other key (status 400), so a
/// client that knows the server's public key but holds no admitted pair never gets a request through.
///
/// It must be bound before the server socket binds: libzmq admits everyone when no handler listens.
/// Like every bus socket it is used by one thread only, the I/O thread that polls ``socket``.
final class ZAPHandler {
    static let endpoint = "inproc://zeromq.zap.01"
    private static let maximumRequestsPerTurn = 256

    let socket: ZMQSocket
    private let admitted: Set<[UInt8]>
    private let reader = FrameReader()
    private let logger: Logger
    private var drops: DropReporter
    private var refusedSinceWarning = 0
    private var lastRefusalWarning: ContinuousClock.Instant?

    init(context: ZMQContext, admitting keys: [String], logger: Logger) throws(SetupFailure) {
        socket = try ZMQSocket(context: context, type: ZMQ_REP)
        try socket.setOption(ZMQ_LINGER, 0)
        try socket.bind(Self.endpoint)
        admitted = Set(keys.compactMap(BusCurveKeys.binaryKey))
        self.logger = logger
        drops = DropReporter(logger: logger)
    }

    /// Answers the ZAP requests waiting, without blocking. Request frames: version "1.0", request id,
    /// domain, address, routing id, mechanism, then the credentials (for CURVE, the client's 32-byte
    /// public key). Reply frames: version, request id, status code, status text, user id, metadata.
    func answerPending(now: ContinuousClock.Instant) {
        for _ in 0..<Self.maximumRequestsPerTurn {
            var frames: [[UInt8]] = []
            loop: while true {
                switch reader.receive(from: socket) {
                case .frame: break
                case .wouldBlock, .failed:
                    if frames.isEmpty { return }
                    break loop
                }
                if frames.count < 8 { frames.append(reader.copyBytes()) }
                if !reader.hasMore { break }
            }
            guard frames.count >= 6, frames[0] == Array("1.0".utf8) else {
                // A REP socket must answer each request before it can receive the next one.
                drops.drop("malformed ZAP request of \(frames.count) frames", now: now)
                reply(requestID: frames.count > 1 ? frames[1] : [], status: "500", text: "malformed request")
                continue
            }
            let mechanism = String(decoding: frames[5], as: UTF8.self)
            let key = frames.count > 6 ? frames[6] : []
            if mechanism == "CURVE", admitted.contains(key) {
                reply(requestID: frames[1], status: "200", text: "OK")
            } else {
                refused(address: String(decoding: frames[3], as: UTF8.self), key: key, now: now)
                reply(requestID: frames[1], status: "400", text: "client key not admitted")
            }
        }
    }

    /// Logs a refused client: each at debug level, and a warning with a count at most every 10 s, so
    /// someone knocking with a wrong key is visible without flooding the log.
    private func refused(address: String, key: [UInt8], now: ContinuousClock.Instant) {
        let metadata: Logger.Metadata = ["address": "\(address)", "client-key": "\(z85(key) ?? "none")"]
        logger.debug("bus client refused: its key is not admitted", metadata: metadata)
        refusedSinceWarning += 1
        if let lastRefusalWarning, now - lastRefusalWarning < .seconds(10) { return }
        logger.warning(
            "bus clients refused: their keys are not admitted (add NAME.public under the keys directory's clients/ to admit one)",
            metadata: metadata.merging(["count": "\(refusedSinceWarning)"]) { $1 })
        refusedSinceWarning = 0
        lastRefusalWarning = now
    }

    private func reply(requestID: [UInt8], status: String, text: String) {
        let frames = [Array("1.0".utf8), requestID, Array(status.utf8), Array(text.utf8), [], []]
        for (index, frame) in frames.enumerated() {
            let rc = socket.send(frame, more: index < frames.count - 1)
            if rc != 0 {
                logger.error("ZAP reply not sent", metadata: ["error": "\(zmqErrorDescription(rc))"])
                return
            }
        }
    }

    /// A client key as Z85 text, as `clients/NAME.public` holds it, for the log.
    private func z85(_ key: [UInt8]) -> String? {
        guard key.count == 32 else { return nil }
        var text = [CChar](repeating: 0, count: 41)
        guard zmq_z85_encode(&text, key, 32) != nil else { return nil }
        return String(decoding: text.prefix(40).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    func close() {
        socket.close()
    }
}

/// Runs a ``ZAPHandler`` on an I/O thread of its own, for a CURVE server socket without one (the event
/// publisher sends on its callers' threads).
final class ZAPDriver: IODriver {
    typealias Command = Never

    private let handler: ZAPHandler

    init(handler: ZAPHandler) {
        self.handler = handler
    }

    var pollSockets: [ZMQSocket] { [handler.socket] }
    var pollGeneration: Int { 0 }

    func handle(_ command: Never, now: ContinuousClock.Instant) {}

    func receiveAvailable(now: ContinuousClock.Instant) {
        handler.answerPending(now: now)
    }

    func serviceTimers(now: ContinuousClock.Instant) -> Duration? { nil }

    func shutdown(leftovers: [Never]) {
        handler.close()
    }
}
