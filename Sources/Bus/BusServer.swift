import Logging

/// The server side of request/reply: a ZeroMQ ROUTER socket bound to an endpoint
/// (`ipc:///path/kv.sock`, `tcp://127.0.0.1:5555`, `tcp://*:5555`), owned by a dedicated I/O thread.
///
/// The server is passive about liveness: it answers each client PING with a PONG on its I/O thread, whatever
/// the handler is doing. Requests that arrive before `run(handler:)` wait in ZeroMQ's queue.
public final class BusServer: Sendable {
    public struct Configuration: Sendable {
        /// The interval of ZeroMQ's own connection heartbeat (`ZMQ_HEARTBEAT_IVL`) on the ROUTER; a client
        /// connection that stays silent for three intervals is dropped, with the replies queued for it.
        public var heartbeatInterval: Duration = .seconds(1)
        /// CURVE keys for a `tcp://` endpoint; by default the process's (``BusCurveKeys/forThisProcess``).
        public var curve: BusCurveKeys? = BusCurveKeys.forThisProcess

        public init() {}
    }

    private let mailbox: Mailbox<ServerCommand>
    private let thread: IOThread

    /// Binds `endpoint`. Fails with `BusError.bindFailed` when the endpoint is malformed or in use
    /// (an `ipc://` path left by a dead process is taken over, as ZeroMQ does).
    public init(bind endpoint: String, configuration: Configuration = .init(), logger: Logger) throws(BusError) {
        var logger = logger
        logger[metadataKey: "bus.endpoint"] = "\(endpoint)"
        do throws(SetupFailure) {
            let mailbox = try Mailbox<ServerCommand>()
            let driver = try ServerDriver(
                endpoint: endpoint, configuration: configuration, mailbox: mailbox, logger: logger)
            thread = try IOThread(name: "bus-server") { runIOLoop(driver, mailbox: mailbox) }
            self.mailbox = mailbox
        } catch {
            throw .bindFailed(endpoint, error.reason)
        }
    }

    deinit {
        close()
    }

    /// Serves until `close()` is called or the surrounding task is cancelled, then returns (after the socket
    /// is closed and the endpoint released). Call it once; a second call throws `BusError.closed`.
    ///
    /// - Parameters:
    ///   - handler: Called on the bus I/O thread for each request, in arrival order. It must not block
    ///     for long: it answers at once, or hands the request to other tasks or threads, which answer
    ///     later through the request.
    ///   - afterEachBatch: Called on the bus I/O thread after `handler` has had every request that was
    ///     waiting (at most 1,024), before the thread sends the replies queued meanwhile. A service that
    ///     gathers requests in `handler` acts on them here as one batch (the kv service hands a batch's
    ///     writes to its committer here); like `handler`, it must not block.
    public func run(
        handler: @escaping @Sendable (BusIncomingRequest) -> Void,
        afterEachBatch: (@Sendable () -> Void)? = nil
    ) async throws {
        let mailbox = self.mailbox
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (finished: CheckedContinuation<Void, any Error>) in
                if !mailbox.post(.serve(handler: handler, afterEachBatch: afterEachBatch, finished: finished)) {
                    finished.resume()
                }
            }
        } onCancel: {
            mailbox.requestStop()
        }
    }

    /// Stops serving and closes the socket. Returns once the endpoint is released (so it can be bound again
    /// at once), except when called from the handler itself, where it only starts the shutdown.
    /// Requests still unanswered are lost; their clients see the connection drop and fail them with
    /// `BusError.unavailable`.
    public func close() {
        mailbox.requestStop()
        thread.join()
    }
}
