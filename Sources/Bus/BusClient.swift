import Logging

/// The client side of request/reply: a ZeroMQ DEALER socket connected to one `BusServer`, owned by a
/// dedicated I/O thread. Any number of requests may be in flight at once, from any tasks; replies are
/// matched to requests by id.
///
/// Failures are reported fast rather than late:
/// - while no connection to the server exists, requests fail at once with `BusError.unavailable` (right after
///   `init` and after a reconnect, requests wait for the first connection attempt's outcome, at most one
///   heartbeat interval);
/// - when the connection drops, or the server stops answering heartbeats, every request in flight fails with
///   `BusError.unavailable`;
/// - ZeroMQ reconnects every 100 ms, so a restarted server is used again without recreating the client.
public final class BusClient: Sendable {
    public struct Configuration: Sendable {
        /// The client sends a PING after this long without sending anything.
        public var heartbeatInterval: Duration = .seconds(1)
        /// The server is dead when nothing arrived from it for this many intervals while a request or a
        /// PING was waiting for an answer.
        public var missedHeartbeatsBeforeDead: Int = 3
        /// CURVE keys for a `tcp://` endpoint; by default the process's (``BusCurveKeys/forThisProcess``).
        public var curve: BusCurveKeys? = BusCurveKeys.forThisProcess

        public init() {}
    }

    private let shared: ClientShared
    private let thread: IOThread

    /// Connects to `endpoint` in the background; the server does not have to be running yet.
    /// Fails with `BusError.connectFailed` only when the endpoint is malformed or its transport unsupported.
    public init(connect endpoint: String, configuration: Configuration = .init(), logger: Logger) throws(BusError) {
        var logger = logger
        logger[metadataKey: "bus.endpoint"] = "\(endpoint)"
        do throws(SetupFailure) {
            let shared = ClientShared(mailbox: try Mailbox<ClientCommand>())
            let driver = try ClientDriver(
                endpoint: endpoint, configuration: configuration, shared: shared, logger: logger)
            thread = try IOThread(name: "bus-client") { runIOLoop(driver, mailbox: shared.mailbox) }
            self.shared = shared
        } catch {
            throw .connectFailed(endpoint, error.reason)
        }
    }

    deinit {
        close()
    }

    /// Sends one request and waits for its final reply.
    ///
    /// If the server streams its answer, the partial replies and the final one are concatenated (for
    /// protobuf payloads, concatenation parses as the merge of the parts, with repeated fields appended).
    ///
    /// - Throws: `BusError.unavailable` (no connection, connection lost, server silent, or the server dropped
    ///   the request), `.deadlineExceeded` (no final reply within `timeout`), `.cancelled` (the calling task
    ///   was cancelled), `.closed` (this client was closed).
    public func request(_ payload: [UInt8], timeout: Duration) async throws(BusError) -> [UInt8] {
        if Task.isCancelled { throw .cancelled }
        let id = shared.nextRequestID.wrappingAdd(1, ordering: .relaxed).oldValue
        let deadline = ContinuousClock.now.advanced(by: timeout)
        let mailbox = shared.mailbox
        let result = await withTaskCancellationHandler {
            await withUnsafeContinuation { (continuation: UnsafeContinuation<Result<[UInt8], BusError>, Never>) in
                let request = ClientRequest(id: id, payload: payload, deadline: deadline, sink: .single(continuation))
                if !mailbox.post(.request(request)) {
                    continuation.resume(returning: .failure(.closed))
                }
            }
        } onCancel: {
            _ = mailbox.post(.cancel(requestID: id))
        }
        return try result.get()
    }

    /// Callback form of `request(_:timeout:)` for callers that must not hop threads: `completion` runs
    /// exactly once, on the bus I/O thread, so it must be quick and must not block.
    public func request(
        _ payload: [UInt8], timeout: Duration, completion: @escaping @Sendable (Result<[UInt8], BusError>) -> Void
    ) {
        let id = shared.nextRequestID.wrappingAdd(1, ordering: .relaxed).oldValue
        let deadline = ContinuousClock.now.advanced(by: timeout)
        let request = ClientRequest(id: id, payload: payload, deadline: deadline, sink: .callback(completion))
        if !shared.mailbox.post(.request(request)) {
            completion(.failure(.closed))
        }
    }

    /// Sends one request whose answer is streamed: `onReply` gets each partial reply in order, then the
    /// final reply, or a failure (a `BusError` as `request(_:timeout:)` fails); nothing follows the
    /// final reply or the failure. `timeout` bounds the whole exchange. Like the callback form of
    /// `request`, `onReply` runs on the bus I/O thread, so it must be quick and must not block: a
    /// long-lived stream (a watch session) hands each reply on without a hop through a task.
    @discardableResult
    public func streamingRequest(
        _ payload: [UInt8], timeout: Duration, onReply: @escaping @Sendable (StreamedReply) -> Void
    ) -> StreamingRequestHandle {
        let id = shared.nextRequestID.wrappingAdd(1, ordering: .relaxed).oldValue
        let deadline = ContinuousClock.now.advanced(by: timeout)
        let request = ClientRequest(id: id, payload: payload, deadline: deadline, sink: .streamed(onReply))
        if !shared.mailbox.post(.request(request)) {
            onReply(.failed(.closed))
        }
        return StreamingRequestHandle(requestID: id, mailbox: shared.mailbox)
    }

    /// True once a PONG or a reply has been received recently; false before the first one, after the
    /// connection dropped, or when the server missed its heartbeats.
    public var isPeerAlive: Bool {
        shared.peerAlive.load(ordering: .relaxed)
    }

    /// Fails every pending request with `BusError.closed`, closes the socket and returns when the I/O thread
    /// has finished. Later requests fail with `BusError.closed`.
    public func close() {
        shared.mailbox.requestStop()
        thread.join()
    }
}

/// One reply of a streaming request.
public enum StreamedReply: Sendable {
    case partial([UInt8])
    case final([UInt8])
    case failed(BusError)
}

/// Abandons a streaming request: later replies are dropped and its callback hears `cancelled`.
public struct StreamingRequestHandle: Sendable {
    let requestID: UInt64
    let mailbox: Mailbox<ClientCommand>

    public func cancel() {
        _ = mailbox.post(.cancel(requestID: requestID))
    }
}
