import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

@testable import Launcher

@Suite("Supervisor", .timeLimit(.minutes(10)))
struct SupervisorTests {
    private let fastRestarts = RestartPolicy(
        initialDelay: .milliseconds(20),
        maximumDelay: .milliseconds(80),
        resetAfterUptime: .seconds(10)
    )

    @Test("a service that exits is restarted, with doubling delays")
    func restartsCrashedService() async throws {
        let run = SupervisorRun(
            Supervisor.Configuration(
                services: [ServiceSpec(name: "flaky", executable: "sh", arguments: ["-c", "exit 3"])],
                locator: systemBinaries,
                restartPolicy: fastRestarts
            )
        )
        let restarted = await eventually { run.events.startedPIDs.count >= 5 }
        run.supervisor.requestShutdown()
        #expect(await run.finished())
        #expect(restarted)
        #expect(Array(run.events.exitStatuses.prefix(4)) == Array(repeating: .exited(code: 3), count: 4))
        #expect(Array(run.events.restartDelays.prefix(4)) == [
            .milliseconds(20), .milliseconds(40), .milliseconds(80), .milliseconds(80),
        ])
        #expect(Set(run.events.startedPIDs.map(\.service)) == ["flaky"])
        let startsAtShutdown = run.events.startedPIDs.count
        try await Task.sleep(for: .milliseconds(150))
        #expect(run.events.startedPIDs.count == startsAtShutdown, "a service was restarted after shutdown")
    }

    @Test("shutdown sends SIGTERM in reverse start order and waits for every service")
    func shutdownStopsServicesInReverseOrder() async throws {
        let run = SupervisorRun(
            Supervisor.Configuration(
                services: [
                    ServiceSpec(name: "first", executable: "sleep", arguments: ["30"]),
                    ServiceSpec(name: "second", executable: "sleep", arguments: ["30"]),
                ],
                locator: systemBinaries,
                restartPolicy: fastRestarts
            )
        )
        #expect(await eventually { run.events.startedPIDs.count == 2 })
        let started = run.events.startedPIDs
        #expect(started.map(\.service) == ["first", "second"])

        run.supervisor.requestShutdown()
        #expect(await run.finished())
        let stopping = run.events.all.compactMap { event -> String? in
            if case .stopping(let service, _) = event { return service }
            return nil
        }
        #expect(stopping == ["second", "first"])
        #expect(run.events.exitStatuses == [.signaled(signal: SIGTERM), .signaled(signal: SIGTERM)])
        #expect(run.events.restartDelays.isEmpty)
        for (_, pid) in started {
            #expect(kill(pid, 0) == -1 && errno == ESRCH, "pid \(pid) is still alive")
        }
        if case .failure(let error) = try #require(run.result) {
            Issue.record("run() threw \(error)")
        }
    }

    @Test("a service that ignores SIGTERM gets SIGKILL after the stop timeout")
    func stubbornServiceIsKilled() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let marker = directory + "/trapped"
        var configuration = Supervisor.Configuration(
            services: [
                ServiceSpec(
                    name: "stubborn",
                    executable: "sh",
                    arguments: ["-c", "trap '' TERM; touch \(marker); exec sleep 30"]
                )
            ],
            locator: systemBinaries,
            restartPolicy: fastRestarts
        )
        configuration.stopTimeout = .milliseconds(200)
        let run = SupervisorRun(configuration)
        #expect(await eventually { FileManager.default.fileExists(atPath: marker) })

        let begin = ContinuousClock.now
        run.supervisor.requestShutdown()
        #expect(await run.finished())
        #expect(ContinuousClock.now - begin >= .milliseconds(200))
        #expect(run.events.all.contains { if case .killed(service: "stubborn", _) = $0 { true } else { false } })
        #expect(run.events.exitStatuses == [.signaled(signal: SIGKILL)])
    }

    @Test("a second shutdown request kills without waiting for the stop timeout")
    func secondRequestForcesShutdown() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let marker = directory + "/trapped"
        let run = SupervisorRun(
            Supervisor.Configuration(
                services: [
                    ServiceSpec(
                        name: "stubborn",
                        executable: "sh",
                        arguments: ["-c", "trap '' TERM; touch \(marker); exec sleep 30"]
                    )
                ],
                locator: systemBinaries,
                stopTimeout: .seconds(600)
            )
        )
        #expect(await eventually { FileManager.default.fileExists(atPath: marker) })
        run.supervisor.requestShutdown()
        #expect(await eventually { run.events.all.contains { if case .stopping = $0 { true } else { false } } })
        run.supervisor.requestShutdown()
        #expect(await run.finished())
        #expect(run.events.exitStatuses == [.signaled(signal: SIGKILL)])
    }

    @Test("services inherit no descriptor of the launcher beyond stdin, stdout and stderr")
    func descriptorsAreNotInherited() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let leaked = open(directory + "/leak-probe", O_CREAT | O_RDWR, 0o600)
        try #require(leaked >= 0)
        defer { close(leaked) }
        let listing = directory + "/fds"
        let run = SupervisorRun(
            Supervisor.Configuration(
                services: [
                    ServiceSpec(
                        name: "lister",
                        executable: "sh",
                        arguments: ["-c", "ls -l /proc/$$/fd > \(listing).tmp; mv \(listing).tmp \(listing); exec sleep 30"]
                    )
                ],
                locator: systemBinaries
            )
        )
        let listed = await eventually { FileManager.default.fileExists(atPath: listing) }
        run.supervisor.requestShutdown()
        #expect(await run.finished())
        #expect(listed)
        let descriptors = try String(contentsOfFile: listing, encoding: .utf8)
        #expect(!descriptors.contains("leak-probe"), "\(descriptors)")
        #expect(descriptors.contains("/dev/null"))
    }

    @Test("nothing starts when an executable is missing")
    func missingExecutable() async throws {
        let run = SupervisorRun(
            Supervisor.Configuration(
                services: [
                    ServiceSpec(name: "present", executable: "sleep", arguments: ["30"]),
                    ServiceSpec(name: "absent", executable: "etcetera-no-such-service", arguments: []),
                ],
                locator: systemBinaries
            )
        )
        #expect(await run.finished())
        guard case .failure(let error) = try #require(run.result) else {
            Issue.record("run() succeeded")
            return
        }
        #expect((error as? LauncherError)?.code == .executableNotFound)
        #expect(run.events.all.isEmpty)
    }

    @Test("a service that cannot be spawned is retried like a crash")
    func spawnFailureIsRetried() async throws {
        let locator = ExecutableLocator(searchDescription: "nowhere") { "/nonexistent/\($0)" }
        let run = SupervisorRun(
            Supervisor.Configuration(
                services: [ServiceSpec(name: "ghost", executable: "ghost", arguments: [])],
                locator: locator,
                restartPolicy: fastRestarts
            )
        )
        let retried = await eventually {
            run.events.all.filter { if case .spawnFailed = $0 { true } else { false } }.count >= 2
        }
        run.supervisor.requestShutdown()
        #expect(await run.finished())
        #expect(retried)
        #expect(run.events.restartDelays.prefix(2) == [.milliseconds(20), .milliseconds(40)])
    }

    @Test("directories are created and readiness is reported once, after every service started")
    func directoriesAndReadiness() async throws {
        let root = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let probes = ProbeCounter(readyAfter: 3)
        let run = SupervisorRun(
            Supervisor.Configuration(
                services: [
                    ServiceSpec(name: "a", executable: "sleep", arguments: ["30"]),
                    ServiceSpec(name: "b", executable: "sleep", arguments: ["30"]),
                ],
                directories: [root + "/data", root + "/data/bus", root + "/data/member"],
                locator: systemBinaries,
                readiness: ReadinessCheck(
                    member: MemberAnnouncement(name: "default", clientURLs: ["http://test"], memberID: 1, clusterID: 2),
                    address: "test", interval: .milliseconds(10)) { probes.probe() }
            )
        )
        let ready = await eventually { run.events.all.contains(.ready) }
        try? await Task.sleep(for: .milliseconds(50))
        run.supervisor.requestShutdown()
        #expect(await run.finished())
        #expect(ready)
        let events = run.events.all
        #expect(events.filter { $0 == .ready }.count == 1)
        let readyIndex = try #require(events.firstIndex(of: .ready))
        #expect(events[..<readyIndex].filter { if case .started = $0 { true } else { false } }.count == 2)
        #expect(probes.calls == 3)
        var isDirectory: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: root + "/data/member", isDirectory: &isDirectory))
        #expect(isDirectory.boolValue)
        let attributes = try FileManager.default.attributesOfItem(atPath: root + "/data/bus")
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o700)
    }
}

/// A readiness probe that passes on its `readyAfter`-th call.
final class ProbeCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    private let readyAfter: Int

    init(readyAfter: Int) {
        self.readyAfter = readyAfter
    }

    func probe() -> Bool {
        lock.withLock {
            count += 1
            return count >= readyAfter
        }
    }

    var calls: Int {
        lock.withLock { count }
    }
}
