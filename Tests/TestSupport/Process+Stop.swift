import Foundation

extension Process {
    /// Waits up to `timeout` for the process to exit; returns whether it did. Polls, so that a wait
    /// always ends: a test must never hang on a process that does not exit.
    public func waitForExit(within timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while isRunning {
            guard ContinuousClock.now < deadline else { return false }
            usleep(20_000)
        }
        waitUntilExit()
        return true
    }

    /// Sends `signal` (SIGTERM by default), gives the process `grace` to exit, then kills it with
    /// SIGKILL. Returns whether it exited within `grace`, without SIGKILL. Blocks its thread: for
    /// `defer` and `deinit`.
    ///
    /// Foundation learns of an exit when a socket the process inherited closes, so a process whose
    /// children outlive it still counts as running, and so would one whose socket leaked into another
    /// child (``runAlone(openingDescriptors:)`` prevents that): every wait here is bounded all the same.
    @discardableResult
    public func stop(signal: Int32 = SIGTERM, grace: Duration = .seconds(10)) -> Bool {
        guard isRunning else { return true }
        kill(processIdentifier, signal)
        if waitForExit(within: grace) { return true }
        kill(processIdentifier, SIGKILL)
        _ = waitForExit(within: .seconds(10))
        return false
    }

    /// `stop(signal:grace:)` that waits by sleeping, so that a test stopping processes does not hold
    /// one of the few threads Swift's concurrency runtime shares between the tests running in parallel.
    /// - Parameter repeatAfter: sends `signal` once more after this long, while the process stops.
    @discardableResult
    public func stop(signal: Int32 = SIGTERM, grace: Duration = .seconds(10), repeatAfter: Duration? = nil) async -> Bool {
        guard isRunning else { return true }
        let deadline = ContinuousClock.now + grace
        kill(processIdentifier, signal)
        if let repeatAfter {
            let repeatAt = ContinuousClock.now + repeatAfter
            while isRunning, ContinuousClock.now < repeatAt { try? await Task.sleep(for: .milliseconds(20)) }
            if isRunning { kill(processIdentifier, signal) }
        }
        while isRunning, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        if isRunning {
            kill(processIdentifier, SIGKILL)
            let killedAt = ContinuousClock.now
            while isRunning, ContinuousClock.now < killedAt + .seconds(10) { try? await Task.sleep(for: .milliseconds(20)) }
            return false
        }
        waitUntilExit()
        return true
    }
}
