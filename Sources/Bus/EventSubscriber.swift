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

    /// Every message received, in publication order. Meant for a single consumer; messages are buffered
    /// without limit until consumed. Finishes after `close()`.
    public let messages: AsyncStream<[UInt8]>

    /// Connects to `endpoint` in the background; the publisher does not have to be running yet.
    /// Fails with `BusError.connectFailed` only when the endpoint is malformed or its transport unsupported.
    public init(connect endpoint: String, logger: Logger) throws(BusError) {
        var logger = logger
        logger[metadataKey: "bus.endpoint"] = "\(endpoint)"
        let (messages, output) = AsyncStream<[UInt8]>.makeStream()
        do throws(SetupFailure) {
            let mailbox = try Mailbox<Never>()
            let driver = try SubscriberDriver(endpoint: endpoint, output: output, logger: logger)
            thread = try IOThread(name: "bus-subscriber") { runIOLoop(driver, mailbox: mailbox) }
            self.mailbox = mailbox
            self.messages = messages
        } catch {
            throw .connectFailed(endpoint, error.reason)
        }
    }

    deinit {
        close()
    }

    /// Closes the socket, finishes `messages` and returns when the I/O thread has finished.
    public func close() {
        mailbox.requestStop()
        thread.join()
    }
}
