import Synchronization

/// Bounds the client requests of one stream that have been taken and not yet answered to the client
/// (answered meaning: the answer has left for the client). Past ``limit`` the call answers
/// `.paused`, and reading resumes once half of the backlog has been answered; so a client that sends
/// and never reads holds at most ``limit`` answers in the gateway, and its further requests wait in
/// its own socket.
final class StreamBacklog: Sendable {
    static let limit = 256

    private let writer: StreamWriter
    private let state = Mutex((outstanding: 0, paused: false))

    init(writer: StreamWriter) {
        self.writer = writer
    }

    /// Counts a request that will be answered; returns whether the call takes more.
    func taken() -> StreamDemand {
        state.withLock { state in
            state.outstanding += 1
            guard state.outstanding >= Self.limit else { return .more }
            state.paused = true
            return .paused
        }
    }

    /// `count` answers have left for the client. Answers the gateway sends on its own (watch events)
    /// count too: they are a sign the client reads, and the count never drops below zero.
    func answered(_ count: Int) {
        let resume = state.withLock { state -> Bool in
            state.outstanding = max(0, state.outstanding - count)
            guard state.paused, state.outstanding <= Self.limit / 2 else { return false }
            state.paused = false
            return true
        }
        if resume { writer.resumeReading() }
    }
}
