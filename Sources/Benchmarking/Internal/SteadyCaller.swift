import NIOCore

/// One call of a ``SteadyCaller``: when it was sent and answered, and how it failed if it did.
struct TimedCall: Sendable {
    let sent: NIODeadline
    let answered: NIODeadline
    let failure: String?

    var latency: Duration { .nanoseconds((answered - sent).nanoseconds) }

    /// Whether the call was outstanding at some moment of `start ... end`.
    func overlaps(from start: NIODeadline, to end: NIODeadline) -> Bool {
        sent <= end && answered >= start
    }
}

/// A client that sends one call at a time at a steady rate until stopped, and keeps every call's
/// timing. Confined to its connection's event loop.
///
/// Pacing follows a token bucket of one token, as etcd's tool limits its rate: a call is sent no
/// sooner than `1 / rate` after the previous one was due, and a call that was held up does not make
/// the next ones rush to catch up. So a server that stops answering for a while shows as one long
/// call, not as a burst after it.
final class SteadyCaller {
    private let connection: ClientConnection
    private let eventLoop: any EventLoop
    private let path: String
    private let requests: [ByteBuffer]
    private let interval: TimeAmount
    private let timeout: TimeAmount?
    private var generator = SystemRandomNumberGenerator()
    private var calls: [TimedCall] = []
    private var nextDue = NIODeadline.now()
    private var scheduled: Scheduled<Void>?
    private var inFlight = false
    private var stopping = false
    private let finished: EventLoopPromise<[TimedCall]>

    /// - Parameters:
    ///   - requests: framed requests; each call sends one picked at random.
    ///   - rate: calls per second; 0 sends each call as soon as the previous one is answered.
    init(
        connection: ClientConnection, eventLoop: any EventLoop, path: String, requests: [ByteBuffer], rate: Int,
        timeout: TimeAmount?
    ) {
        precondition(!requests.isEmpty)
        self.connection = connection
        self.eventLoop = eventLoop
        self.path = path
        self.requests = requests
        interval = rate > 0 ? .nanoseconds(Int64(1e9 / Double(rate))) : .zero
        self.timeout = timeout
        finished = eventLoop.makePromise()
    }

    func start() {
        nextDue = .now()
        send()
    }

    /// Sends no more calls; the future completes with every call once the one in flight is answered.
    func stop() -> EventLoopFuture<[TimedCall]> {
        if !stopping {
            stopping = true
            scheduled?.cancel()
            scheduled = nil
            if !inFlight { finished.succeed(calls) }
        }
        return finished.futureResult
    }

    private func scheduleNext() {
        guard !stopping else {
            finished.succeed(calls)
            return
        }
        let now = NIODeadline.now()
        nextDue = max(nextDue + interval, now)
        if nextDue > now {
            scheduled = eventLoop.assumeIsolated().scheduleTask(deadline: nextDue) { self.send() }
        } else {
            send()
        }
    }

    private func send() {
        scheduled = nil
        guard !stopping else { return }
        inFlight = true
        let request = requests[Int.random(in: 0..<requests.count, using: &generator)]
        let sent = NIODeadline.now()
        connection.call(path: path, framedRequest: request, timeout: timeout) { result in
            self.inFlight = false
            let answered = NIODeadline.now()
            switch result {
            case .success: self.calls.append(TimedCall(sent: sent, answered: answered, failure: nil))
            case .failure(let failure): self.calls.append(TimedCall(sent: sent, answered: answered, failure: "\(failure)"))
            }
            self.scheduleNext()
        }
    }
}
