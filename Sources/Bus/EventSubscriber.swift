import Logging

/// The receiving side of an event stream: a ZeroMQ SUB socket connected to an `EventPublisher` and
/// subscribed to every message, owned by a dedicated I/O thread. ZeroMQ reconnects every 100 ms after the
/// publisher restarts.
///
/// Messages published before the connection is established are not received, and ZeroMQ drops messages
/// when this subscriber falls 100,000 messages behind: detect gaps from the content (the kv revision).
public final class EventSubscriber: Sendable {
    private let thread: IOThread
    private let mailbox: Mailbox<Never>

    /// Connects to `endpoint` in the background; the publisher does not have to be running yet.
    /// Fails with `BusError.connectFailed` only when the endpoint is malformed or its transport unsupported.
    ///
    /// - Parameters:
    ///   - onMessages: the messages received in one turn of the subscriber's I/O thread (all that had
    ///     arrived, up to 1,024), in publication order, called on that thread. A callback rather than
    ///     an async stream because events are on the watch latency path: the consumer posts straight
    ///     to its own queue, without a hop through a task, and once per turn rather than once per
    ///     message, so a burst of revisions costs the consumer one wake-up. It must not block.
    ///   - onClose: called once on the I/O thread after `close()`; no message follows.
    ///   - curve: CURVE keys for a `tcp://` endpoint; by default the process's.
    public init(
        connect endpoint: String, logger: Logger, curve: BusCurveKeys? = BusCurveKeys.forThisProcess,
        onMessages: @escaping @Sendable ([[UInt8]]) -> Void, onClose: @escaping @Sendable () -> Void = {}
    ) throws(BusError) {
        var logger = logger
        logger[metadataKey: "bus.endpoint"] = "\(endpoint)"
        do throws(SetupFailure) {
            let mailbox = try Mailbox<Never>()
            let driver = try SubscriberDriver(endpoint: endpoint, curve: curve, onMessages: onMessages, onClose: onClose, logger: logger)
            thread = try IOThread(name: "bus-subscriber") { runIOLoop(driver, mailbox: mailbox) }
            self.mailbox = mailbox
        } catch {
            throw .connectFailed(endpoint, error.reason)
        }
    }

    deinit {
        close()
    }

    /// Closes the socket, calls `onClose` and returns when the I/O thread has finished.
    public func close() {
        mailbox.requestStop()
        thread.join()
    }
}
