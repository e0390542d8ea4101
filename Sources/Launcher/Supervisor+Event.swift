extension Supervisor {
    /// What happened to the services, reported to the observer in order, from the thread in
    /// ``Supervisor/run()``. Tests use it; the launcher logs instead.
    public enum Event: Sendable, Hashable {
        /// A service process was spawned.
        case started(service: String, pid: Int32)
        /// A service process ended (unexpectedly, or while stopping).
        case exited(service: String, pid: Int32, status: ServiceExitStatus)
        /// A service will be started again after `delay`.
        case restartScheduled(service: String, delay: Duration)
        /// The operating system refused to spawn a service; it is retried like a crash.
        case spawnFailed(service: String, message: String)
        /// The readiness check passed (reported once).
        case ready
        /// SIGTERM was sent to a service during shutdown.
        case stopping(service: String, pid: Int32)
        /// A service did not stop in time and got SIGKILL.
        case killed(service: String, pid: Int32)
    }
}
