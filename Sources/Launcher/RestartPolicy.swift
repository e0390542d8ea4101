/// When a crashed service is started again.
///
/// The first restart waits ``initialDelay``; each further crash doubles the wait up to ``maximumDelay``.
/// A service that stayed up for at least ``resetAfterUptime`` is considered healthy again, and its next
/// crash waits ``initialDelay`` once more. Defaults: 100 ms, doubling to 2 s, reset after 10 s.
public struct RestartPolicy: Sendable, Hashable {
    public var initialDelay: Duration
    public var maximumDelay: Duration
    public var resetAfterUptime: Duration

    public init(
        initialDelay: Duration = .milliseconds(100),
        maximumDelay: Duration = .seconds(2),
        resetAfterUptime: Duration = .seconds(10)
    ) {
        self.initialDelay = initialDelay
        self.maximumDelay = maximumDelay
        self.resetAfterUptime = resetAfterUptime
    }
}

/// The restart delay of one service, following a ``RestartPolicy``.
public struct RestartBackoff: Sendable, Hashable {
    public let policy: RestartPolicy
    private var next: Duration

    public init(policy: RestartPolicy) {
        self.policy = policy
        self.next = policy.initialDelay
    }

    /// The delay before restarting a service that ran for `uptime` and then exited; advances the backoff.
    public mutating func delay(afterUptime uptime: Duration) -> Duration {
        if uptime >= policy.resetAfterUptime {
            next = policy.initialDelay
        }
        let delay = min(next, policy.maximumDelay)
        next = min(next * 2, policy.maximumDelay)
        return delay
    }
}
