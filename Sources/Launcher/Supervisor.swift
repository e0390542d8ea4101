#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Logging

/// Runs the services of a plan as child processes and keeps them running until asked to stop.
///
/// - Start: creates the directories, finds every executable (failing before anything starts if one is
///   missing), spawns the services in order, then runs the ``ReadinessCheck`` and prints etcd's
///   `ready to serve client requests` lines in etcd's shape (``EtcdLogFormat``).
/// - Restart: a service that exits while the supervisor runs is logged
///   (`service etcetera-kv exited (signal 9), restarting`) and spawned again after a ``RestartBackoff``.
/// - Stop: after ``requestShutdown()`` (the launcher calls it on SIGTERM/SIGINT) pending restarts are
///   dropped and the services get SIGTERM one at a time in reverse start order (clients lose the gateway
///   first, the kv store goes last). Together they have ``Configuration/stopTimeout``: whatever still
///   runs then gets SIGKILL, so the launcher itself stops within a supervisor's grace period however
///   many services hang. A second request kills the rest at once.
///
/// Each spawned process is reaped by a thread blocked in `waitpid` on that pid only, so processes the
/// host program starts elsewhere are never reaped by mistake. All spawning and bookkeeping happen on the
/// thread that calls ``run()`` (see ``ChildTrampoline`` for why that matters).
public final class Supervisor: @unchecked Sendable {
    public struct Configuration: Sendable {
        /// The services in start order.
        public var services: [ServiceSpec]
        /// Directories to create (with parents, mode 0700) before starting.
        public var directories: [String]
        public var locator: ExecutableLocator
        public var restartPolicy: RestartPolicy
        /// How long the services together have to exit after the first SIGTERM before the rest get
        /// SIGKILL. The default leaves the launcher within the 10 s systemd and `docker stop` give.
        public var stopTimeout: Duration
        public var readiness: ReadinessCheck?
        /// An executable implementing ``ChildTrampoline`` (the running `etcetera`); `nil` spawns directly.
        public var trampoline: String?

        public init(
            services: [ServiceSpec],
            directories: [String] = [],
            locator: ExecutableLocator,
            restartPolicy: RestartPolicy = RestartPolicy(),
            stopTimeout: Duration = .seconds(8),
            readiness: ReadinessCheck? = nil,
            trampoline: String? = nil
        ) {
            self.services = services
            self.directories = directories
            self.locator = locator
            self.restartPolicy = restartPolicy
            self.stopTimeout = stopTimeout
            self.readiness = readiness
            self.trampoline = trampoline
        }

        /// The services and directories of `plan`, ready when its client URL accepts connections.
        public init(
            plan: ServicePlan,
            locator: ExecutableLocator,
            restartPolicy: RestartPolicy = RestartPolicy(),
            stopTimeout: Duration = .seconds(8),
            logFormat: EtcdLogFormat = .capnslog,
            trampoline: String? = nil
        ) {
            self.init(
                services: plan.services,
                directories: plan.directories,
                locator: locator,
                restartPolicy: restartPolicy,
                stopTimeout: stopTimeout,
                readiness: .tcpConnect(to: plan.clientURL, member: plan.member, format: logFormat),
                trampoline: trampoline
            )
        }
    }

    private struct Child {
        let spec: ServiceSpec
        let path: String
        var pid: pid_t?
        var startedAt: ContinuousClock.Instant
        var backoff: RestartBackoff
        var restartAt: ContinuousClock.Instant?
    }

    private let configuration: Configuration
    private let logger: Logger
    private let observer: (@Sendable (Event) -> Void)?
    private let clock = ContinuousClock()

    /// Guards the fields below, which reaper and readiness threads and ``requestShutdown()`` write.
    private let condition = NSCondition()
    private var exits: [(pid: pid_t, status: ServiceExitStatus)] = []
    private var shutdownRequests = 0
    private var readyPending = false
    private var probing = false
    private var hasRun = false

    /// Only touched by the thread in ``run()``.
    private var children: [Child] = []
    private var stopping = false

    /// - Parameters:
    ///   - observer: receives every ``Event``, on the thread that calls ``run()``.
    public init(configuration: Configuration, logger: Logger, observer: (@Sendable (Event) -> Void)? = nil) {
        self.configuration = configuration
        self.logger = logger
        self.observer = observer
    }

    /// Starts the services and supervises them until ``requestShutdown()``; returns once all have exited.
    ///
    /// Blocks the calling thread, which must outlive the services when a trampoline is used: call it from
    /// the main thread. May be called once.
    /// - Throws: `LauncherError` if a directory cannot be created or an executable is missing; nothing
    ///   has been started then.
    public func run() throws {
        condition.lock()
        precondition(!hasRun, "Supervisor.run() may be called once")
        hasRun = true
        condition.unlock()

        try createDirectories()
        let paths = try configuration.services.map { try configuration.locator.locate($0.executable) }
        children = zip(configuration.services, paths).map { spec, path in
            Child(
                spec: spec,
                path: path,
                pid: nil,
                startedAt: clock.now,
                backoff: RestartBackoff(policy: configuration.restartPolicy),
                restartAt: nil
            )
        }
        for index in children.indices {
            start(index)
        }
        if let readiness = configuration.readiness {
            startReadinessProbe(readiness)
        }
        supervise()
        stopAll()
    }

    /// Asks ``run()`` to stop the services and return. Safe from any thread, including a signal handler's
    /// dispatch queue; a second call makes ``run()`` kill the remaining services without waiting.
    public func requestShutdown() {
        condition.lock()
        shutdownRequests += 1
        condition.broadcast()
        condition.unlock()
    }

    // MARK: - Running

    private func supervise() {
        while true {
            condition.lock()
            while exits.isEmpty && shutdownRequests == 0 && !readyPending {
                guard let next = children.compactMap(\.restartAt).min() else {
                    condition.wait()
                    continue
                }
                let remaining = next - clock.now
                if remaining <= .zero { break }
                _ = condition.wait(until: Date(timeIntervalSinceNow: remaining.timeInterval))
            }
            let batch = exits
            exits.removeAll()
            let shutdown = shutdownRequests > 0
            let ready = readyPending
            readyPending = false
            condition.unlock()

            for exit in batch {
                recordExit(pid: exit.pid, status: exit.status)
            }
            if ready, let readiness = configuration.readiness {
                let lines = readiness.format.readinessLines(member: readiness.member, address: readiness.address, secure: readiness.isSecure)
                FileHandle.standardError.write(Data(lines.map { $0 + "\n" }.joined().utf8))
                observer?(.ready)
            }
            if shutdown {
                return
            }
            let now = clock.now
            for index in children.indices {
                if let restartAt = children[index].restartAt, restartAt <= now {
                    children[index].restartAt = nil
                    start(index)
                }
            }
        }
    }

    private func start(_ index: Int) {
        let child = children[index]
        var command = (path: child.path, arguments: child.spec.arguments)
        if let trampoline = configuration.trampoline {
            command = ChildTrampoline.command(
                trampoline: trampoline,
                executable: child.path,
                arguments: child.spec.arguments,
                parent: getpid()
            )
        }
        do {
            let pid = try ProcessSpawner.spawn(path: command.path, arguments: command.arguments)
            children[index].pid = pid
            children[index].startedAt = clock.now
            reap(pid)
            logger.info("started service \(child.spec.name) (pid \(pid))")
            logger.debug("service \(child.spec.name): \(child.path) \(child.spec.arguments.joined(separator: " "))")
            observer?(.started(service: child.spec.name, pid: pid))
        } catch {
            logger.error("service \(child.spec.name) failed to start: \(error), restarting")
            observer?(.spawnFailed(service: child.spec.name, message: "\(error)"))
            scheduleRestart(index, uptime: .zero)
        }
    }

    private func recordExit(pid: pid_t, status: ServiceExitStatus) {
        guard let index = children.firstIndex(where: { $0.pid == pid }) else { return }
        let name = children[index].spec.name
        children[index].pid = nil
        observer?(.exited(service: name, pid: pid, status: status))
        if stopping {
            logger.info("service \(name) stopped (\(status))")
            return
        }
        logger.warning("service \(name) exited (\(status)), restarting")
        scheduleRestart(index, uptime: clock.now - children[index].startedAt)
    }

    private func scheduleRestart(_ index: Int, uptime: Duration) {
        let delay = children[index].backoff.delay(afterUptime: uptime)
        children[index].restartAt = clock.now + delay
        observer?(.restartScheduled(service: children[index].spec.name, delay: delay))
    }

    /// Waits for `pid` on a dedicated thread and queues its exit for the supervising thread.
    private func reap(_ pid: pid_t) {
        let thread = Thread { [self] in
            var waitStatus: Int32 = 0
            var result: pid_t
            repeat {
                result = waitpid(pid, &waitStatus, 0)
            } while result == -1 && errno == EINTR
            let status = result == pid ? ServiceExitStatus(waitStatus: waitStatus) : .unknown
            condition.lock()
            exits.append((pid, status))
            condition.broadcast()
            condition.unlock()
        }
        thread.name = "etcetera-reaper-\(pid)"
        thread.stackSize = 256 * 1024
        thread.start()
    }

    private func startReadinessProbe(_ readiness: ReadinessCheck) {
        condition.lock()
        probing = true
        condition.unlock()
        let thread = Thread { [self] in
            while true {
                condition.lock()
                let keepProbing = probing && shutdownRequests == 0
                condition.unlock()
                guard keepProbing else { return }
                if readiness.probe() {
                    condition.lock()
                    readyPending = true
                    condition.broadcast()
                    condition.unlock()
                    return
                }
                Thread.sleep(forTimeInterval: readiness.interval.timeInterval)
            }
        }
        thread.name = "etcetera-readiness"
        thread.start()
    }

    // MARK: - Stopping

    private func stopAll() {
        stopping = true
        condition.lock()
        probing = false
        condition.unlock()
        logger.info("stopping services")
        for index in children.indices {
            children[index].restartAt = nil
        }
        let deadline = clock.now + configuration.stopTimeout
        var late = false
        for index in children.indices.reversed() {
            guard let pid = children[index].pid else { continue }
            let name = children[index].spec.name
            if !late {
                kill(pid, SIGTERM)
                observer?(.stopping(service: name, pid: pid))
                if waitForExit(of: index, deadline: deadline, giveUpWhenForced: true) {
                    continue
                }
                late = true
            }
            logger.warning("service \(name) did not stop in time, killing it")
            kill(pid, SIGKILL)
            observer?(.killed(service: name, pid: pid))
            _ = waitForExit(of: index, deadline: nil, giveUpWhenForced: false)
        }
        logger.info("all services stopped")
    }

    /// Processes exits until the child at `index` has exited (`true`), the deadline passes or, when
    /// `giveUpWhenForced`, a second shutdown request arrives (`false`).
    private func waitForExit(of index: Int, deadline: ContinuousClock.Instant?, giveUpWhenForced: Bool) -> Bool {
        while children[index].pid != nil {
            condition.lock()
            while exits.isEmpty {
                if giveUpWhenForced && shutdownRequests > 1 { break }
                guard let deadline else {
                    condition.wait()
                    continue
                }
                let remaining = deadline - clock.now
                if remaining <= .zero { break }
                _ = condition.wait(until: Date(timeIntervalSinceNow: remaining.timeInterval))
            }
            let batch = exits
            exits.removeAll()
            let forced = shutdownRequests > 1
            condition.unlock()
            for exit in batch {
                recordExit(pid: exit.pid, status: exit.status)
            }
            if children[index].pid == nil { return true }
            if giveUpWhenForced && forced { return false }
            if let deadline, clock.now >= deadline { return false }
        }
        return true
    }

    private func createDirectories() throws {
        for directory in configuration.directories {
            do {
                try FileManager.default.createDirectory(
                    atPath: directory,
                    withIntermediateDirectories: true,
                    attributes: [.posixPermissions: 0o700]
                )
            } catch {
                throw LauncherError(
                    code: .directoryUnusable,
                    message: "cannot create directory \(directory): \(error.localizedDescription)"
                )
            }
        }
    }
}

extension Duration {
    /// The duration in seconds, for Foundation and Dispatch APIs.
    var timeInterval: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
    }
}
