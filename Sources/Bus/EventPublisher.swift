import Logging

/// The publishing side of an ordered event stream: a ZeroMQ PUB socket bound to an endpoint, owned by a
/// dedicated I/O thread. Each message is one frame, delivered to every connected `EventSubscriber`.
///
/// Delivery is ordered but not guaranteed: a subscriber that connects late misses what was published before
/// (ZeroMQ's "slow joiner"), and one that falls more than 100,000 messages behind loses messages (ZeroMQ's
/// high-water mark). Subscribers must therefore detect gaps from the content (the kv revision) and replay.
public final class EventPublisher: Sendable {
    private let mailbox: Mailbox<[UInt8]>
    private let thread: IOThread

    /// Binds `endpoint`. Fails with `BusError.bindFailed` when the endpoint is malformed or in use.
    public init(bind endpoint: String, logger: Logger) throws(BusError) {
        var logger = logger
        logger[metadataKey: "bus.endpoint"] = "\(endpoint)"
        do throws(SetupFailure) {
            let mailbox = try Mailbox<[UInt8]>()
            let driver = try PublisherDriver(endpoint: endpoint, logger: logger)
            thread = try IOThread(name: "bus-publisher") { runIOLoop(driver, mailbox: mailbox) }
            self.mailbox = mailbox
        } catch {
            throw .bindFailed(endpoint, error.reason)
        }
    }

    deinit {
        close()
    }

    /// Queues `payload` for publication and returns at once; thread-safe. Messages from one publisher are
    /// sent in the order of the `publish` calls (calls from several threads are ordered as they take the
    /// queue's lock). Messages published after `close()` are dropped.
    public func publish(_ payload: [UInt8]) {
        _ = mailbox.post(payload)
    }

    /// Closes the socket and returns once the endpoint is released. Messages still queued are dropped.
    public func close() {
        mailbox.requestStop()
        thread.join()
    }
}
