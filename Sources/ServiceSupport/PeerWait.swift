import ServiceLifecycle

/// Runs `wait`, a wait for a peer service that retries until the peer answers, until it returns or the
/// graceful shutdown of the calling service begins: `nil` then.
///
/// A service's graceful shutdown only asks; a service still waiting for a peer that never comes (the
/// kv store of a split deployment that failed to start) would otherwise ignore SIGTERM for ever. `wait`
/// is cancelled at the shutdown, so its sleeps and bus requests must end on cancellation.
public func untilGracefulShutdown<Value: Sendable>(_ wait: @Sendable @escaping () async throws -> Value) async throws -> Value? {
    do {
        return try await cancelWhenGracefulShutdown(wait)
    } catch {
        if Task.isShuttingDownGracefully { return nil }
        throw error
    }
}
