#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import Logging
import ServiceLifecycle
import ServiceSupport
import Synchronization

/// How a service process answers SIGTERM and SIGINT, in whatever state it is: starting, waiting for a
/// peer service, serving, in the middle of a compaction, already shutting down.
///
/// The first signal starts the graceful shutdown of the service group (remembered if the group is not
/// built yet, so a signal during start-up is not lost) and arms a deadline: a process that has not
/// exited by then logs why and exits with status 1, as a supervisor (the launcher, systemd, `docker
/// stop`) would otherwise SIGKILL it. A second signal exits at once. The deadline runs on a dispatch
/// queue, not in Swift's cooperative pool, so a blocked task cannot hold it up. Exiting without the
/// graceful steps loses nothing: every acknowledged write is synced, as after a `kill -9`.
public final class ShutdownOnSignal: Sendable {
    /// How long a graceful shutdown may take; with the process's own exit this stays within the 10 s
    /// a supervisor gives before SIGKILL.
    public static let deadline: Duration = .seconds(8)

    private struct State {
        var signals = 0
        var group: ServiceGroup?
    }

    private let state = Mutex(State())
    private let logger: Logger
    nonisolated(unsafe) private var signals: TerminationSignals?

    /// Installs the handlers; returns once they are in place.
    public init(logger: Logger) {
        self.logger = logger
        signals = TerminationSignals { [self] number in received(number) }
    }

    /// The group to shut down gracefully; at once if a signal came before.
    public func attach(_ group: ServiceGroup) {
        let pending = state.withLock { state in
            state.group = group
            return state.signals > 0
        }
        if pending { Task { await group.triggerGracefulShutdown() } }
    }

    private func received(_ number: Int32) {
        let (count, group) = state.withLock { state in
            state.signals += 1
            return (state.signals, state.group)
        }
        let name = number == SIGINT ? "SIGINT" : number == SIGTERM ? "SIGTERM" : "signal \(number)"
        guard count == 1 else {
            logger.warning("received \(name) again, exiting now")
            Self.exit(status: 1)
        }
        logger.info("received \(name), shutting down")
        let logger = logger
        DispatchQueue.global().asyncAfter(deadline: .now() + Self.deadline.timeInterval) {
            logger.critical("did not shut down within \(Self.deadline.components.seconds) s of the signal, exiting")
            Self.exit(status: 1)
        }
        if let group { Task { await group.triggerGracefulShutdown() } }
    }

    /// Ends the process without running what a graceful exit would (other threads may still be using it).
    private static func exit(status: Int32) -> Never {
        _exit(status)
    }
}

extension Duration {
    /// The duration in seconds, for Dispatch.
    fileprivate var timeInterval: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
