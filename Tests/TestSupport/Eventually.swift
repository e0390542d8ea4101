/// Polls `condition` every 100 ms until it holds or `timeout` passes; returns whether it held. For
/// waiting on what a server process does (a log line, a port), never for timing assertions: the
/// timeout only bounds a test that fails, so it is generous enough for a machine busy with other work.
public func eventually(within timeout: Duration = .seconds(60), _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        guard ContinuousClock.now < deadline, !Task.isCancelled else { return false }
        try? await Task.sleep(for: .milliseconds(100))
    }
    return true
}
