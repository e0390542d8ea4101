/// Polls `condition` every 100 ms until it holds or `timeout` passes; returns whether it held. For
/// waiting on what a server process does (a log line, a port), never for timing assertions.
public func eventually(within timeout: Duration = .seconds(15), _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        guard ContinuousClock.now < deadline else { return false }
        try? await Task.sleep(for: .milliseconds(100))
    }
    return true
}
