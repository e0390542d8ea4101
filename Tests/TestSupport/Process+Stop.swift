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
    /// SIGKILL and reaps it. Returns whether it exited within `grace`, without SIGKILL.
    @discardableResult
    public func stop(signal: Int32 = SIGTERM, grace: Duration = .seconds(10)) -> Bool {
        guard isRunning else { return true }
        kill(processIdentifier, signal)
        if waitForExit(within: grace) { return true }
        kill(processIdentifier, SIGKILL)
        waitUntilExit()
        return false
    }
}
