import Synchronization

/// One request received by a `BusServer`, with the means to answer it.
///
/// Copies share one reply state: the first `reply(_:)` from any copy wins. When the last copy is released
/// without a final reply (a handler that dropped the request, or a server shutting down), the client is
/// told at once and fails the request with `BusError.unavailable` instead of waiting for its deadline.
public struct BusIncomingRequest: Sendable {
    public let payload: [UInt8]

    /// When the caller stops waiting; a handler may skip work whose deadline has passed.
    public let deadline: ContinuousClock.Instant

    private let context: ReplyContext

    init(payload: [UInt8], deadline: ContinuousClock.Instant, context: ReplyContext) {
        self.payload = payload
        self.deadline = deadline
        self.context = context
    }

    /// Sends one partial reply of a streamed answer (snapshot chunks, large ranges); thread-safe.
    /// Partials from one thread arrive in the order they were sent, before the final reply sent after them.
    /// Ignored after the final reply.
    public func sendPartial(_ payload: [UInt8]) {
        context.sendPartial(payload)
    }

    /// Sends the final reply; thread-safe. Only the first call has an effect.
    public func reply(_ payload: [UInt8]) {
        context.sendFinal(payload, status: .ok)
    }

    /// Turns the request away without running it: the client fails it with `BusError.overloaded`.
    func replyOverloaded() {
        context.sendFinal([], status: .overloaded)
    }

    /// Gives up on the request without running it: the client fails it with `BusError.unavailable`,
    /// if it is still waiting.
    func drop() {
        context.sendFinal([], status: .unavailable)
    }
}

/// The addressing and the once-only flag shared by the copies of a `BusIncomingRequest`.
final class ReplyContext: Sendable {
    private let identity: PeerIdentity
    private let requestID: UInt64
    private let mailbox: Mailbox<ServerCommand>
    private let finished = Atomic(false)

    init(identity: PeerIdentity, requestID: UInt64, mailbox: Mailbox<ServerCommand>) {
        self.identity = identity
        self.requestID = requestID
        self.mailbox = mailbox
    }

    func sendPartial(_ payload: [UInt8]) {
        guard !finished.load(ordering: .acquiring) else { return }
        let reply = ServerReply(identity: identity, requestID: requestID, command: .partial, status: 0, payload: payload)
        _ = mailbox.post(.send(reply))
    }

    func sendFinal(_ payload: [UInt8], status: ReplyStatus) {
        guard !finished.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let reply = ServerReply(
            identity: identity, requestID: requestID, command: .final, status: status.rawValue, payload: payload)
        _ = mailbox.post(.send(reply))
    }

    deinit {
        sendFinal([], status: .unavailable)
    }
}
