import CZeroMQ
import Logging
import Synchronization

/// The publishing side of an ordered event stream: a ZeroMQ PUB socket bound to an endpoint. Each message
/// is one frame, delivered to every connected `EventSubscriber`.
///
/// Delivery is ordered but not guaranteed: a subscriber that connects late misses what was published before
/// (ZeroMQ's "slow joiner"), and one that falls more than 100,000 messages behind loses messages (ZeroMQ's
/// high-water mark). Subscribers must therefore detect gaps from the content (the kv revision) and replay.
///
/// Unlike the other bus objects it has no thread of its own: a PUB socket never receives and never blocks
/// a sender, so `publish` sends on the caller's thread under a lock. The kv service publishes right after
/// each commit, on the thread that committed, without waking another thread.
public final class EventPublisher: Sendable {
    private struct Open {
        let context: ZMQContext
        let socket: ZMQSocket
        /// The thread that admits CURVE subscribers by key; nil without CURVE.
        let zap: (thread: IOThread, mailbox: Mailbox<Never>)?
    }

    private let open: Mutex<Open?>
    private let logger: Logger

    /// Binds `endpoint`. Fails with `BusError.bindFailed` when the endpoint is malformed or in use.
    /// - Parameter curve: CURVE keys for a `tcp://` endpoint; by default the process's.
    public init(bind endpoint: String, logger: Logger, curve: BusCurveKeys? = BusCurveKeys.forThisProcess) throws(BusError) {
        var logger = logger
        logger[metadataKey: "bus.endpoint"] = "\(endpoint)"
        self.logger = logger
        do throws(SetupFailure) {
            let context = try ZMQContext()
            let socket = try ZMQSocket(context: context, type: ZMQ_PUB)
            try socket.setOption(ZMQ_LINGER, 0)
            try socket.setOption(ZMQ_SNDHWM, busHighWaterMark)
            var zap: (thread: IOThread, mailbox: Mailbox<Never>)?
            if let keys = try socket.applyCurve(curve, as: .server, endpoint: endpoint) {
                let mailbox = try Mailbox<Never>()
                let driver = ZAPDriver(handler: try ZAPHandler(context: context, admitting: keys.admittedClientKeys, logger: logger))
                zap = (try IOThread(name: "bus-zap") { runIOLoop(driver, mailbox: mailbox) }, mailbox)
            }
            do {
                try socket.bind(endpoint)
            } catch {
                zap?.mailbox.requestStop()
                zap?.thread.join()
                throw error
            }
            open = Mutex(Open(context: context, socket: socket, zap: zap))
        } catch {
            throw .bindFailed(endpoint, error.reason)
        }
    }

    deinit {
        close()
    }

    /// Sends `payload` to the subscribers and returns at once; thread-safe. Messages from one publisher are
    /// sent in the order of the `publish` calls (calls from several threads are ordered as they take the
    /// lock). Messages published after `close()` are dropped.
    public func publish(_ payload: [UInt8]) {
        let rc = open.withLock { open in open.map { $0.socket.send(payload, more: false) } ?? 0 }
        if rc != 0 {
            logger.warning("event not published", metadata: ["error": "\(zmqErrorDescription(rc))"])
        }
    }

    /// Closes the socket and returns once the endpoint is released.
    public func close() {
        guard let closing = open.withLock({ open in defer { open = nil }; return open }) else { return }
        closing.socket.close()
        if let zap = closing.zap {
            zap.mailbox.requestStop()
            zap.thread.join()
        }
        closing.context.terminate()
    }
}
