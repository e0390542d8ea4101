import Logging

/// Logs dropped messages: each one at debug level, and a warning with a count at most every 10 seconds, so a
/// peer sending garbage is visible without flooding the log.
struct DropReporter {
    private let logger: Logger
    private var droppedSinceWarning = 0
    private var lastWarning: ContinuousClock.Instant?

    init(logger: Logger) {
        self.logger = logger
    }

    mutating func drop(_ reason: @autoclosure () -> String, now: ContinuousClock.Instant) {
        let reason = reason()
        logger.debug("dropped bus message", metadata: ["reason": "\(reason)"])
        droppedSinceWarning += 1
        if let lastWarning, now - lastWarning < .seconds(10) { return }
        logger.warning(
            "dropped malformed or unexpected bus messages",
            metadata: ["count": "\(droppedSinceWarning)", "last-reason": "\(reason)"]
        )
        droppedSinceWarning = 0
        lastWarning = now
    }
}
