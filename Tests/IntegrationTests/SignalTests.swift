import Foundation
import TestSupport
import Testing

/// SIGTERM is obeyed within 10 s in every state of every process: the launcher and each service
/// started alone, while starting, waiting for a peer service, serving, in the middle of a defragment or
/// a compaction, and while already shutting down. `docker stop` and systemd give 10 s before SIGKILL.
///
/// "Obeyed" is a graceful stop (exit status 0), or, for a signal that comes before the process could
/// install its handler, the default action (killed by SIGTERM). The forced exit a service makes when its
/// graceful shutdown overruns (status 1) fails these tests: it hides a wait that ignores the shutdown.
@Suite("SIGTERM in every state", .timeLimit(.minutes(10)))
struct SignalTests {
    /// Sends SIGTERM and expects the process to be gone within 10 s, stopped as described above.
    private static func expectStopsOnSIGTERM(_ process: LoggedProcess, _ state: String, secondSignal: Bool = false) async {
        let stopped = await process.process.stop(signal: SIGTERM, grace: .seconds(10), repeatAfter: secondSignal ? .milliseconds(200) : nil)
        #expect(stopped, "\(state): still running 10 s after SIGTERM\n\(process.log)")
        guard stopped else { return }
        let status = process.process.terminationStatus
        switch process.process.terminationReason {
        case .exit:
            #expect(status == 0 || (secondSignal && status == 1), "\(state): exit status \(status)\n\(process.log)")
        case .uncaughtSignal:
            #expect(status == SIGTERM, "\(state): killed by signal \(status)\n\(process.log)")
        @unknown default:
            Issue.record("\(state): unknown termination")
        }
    }

    /// The bus endpoints of services started alone, as ipc:// sockets in one directory.
    private struct Split {
        let directory = TestPaths.temporaryDirectory(prefix: "sigterm")
        var kv: String { "ipc://\(directory)/kv.sock" }
        var kvEvents: String { "ipc://\(directory)/kv-events.sock" }
        var maintenance: String { "ipc://\(directory)/maintenance.sock" }

        func start(_ service: String, _ arguments: [String]) throws -> LoggedProcess {
            try LoggedProcess(
                executable: TestPaths.executable("etcetera-\(service)"), arguments: arguments,
                logPath: "\(directory)/\(service)-\(UUID().uuidString.prefix(4)).log")
        }

        func startKV() throws -> LoggedProcess {
            try start("kv", ["--data-dir", directory + "/kv", "--listen", kv, "--events", kvEvents])
        }

        func startLease() throws -> LoggedProcess {
            try start("lease", ["--data-dir", directory + "/lease", "--listen", "ipc://\(directory)/lease.sock", "--kv", kv])
        }

        func startWatch() throws -> LoggedProcess {
            try start("watch", ["--listen", "ipc://\(directory)/watch.sock", "--kv", kv, "--kv-events", kvEvents])
        }

        func startMaintenance() throws -> LoggedProcess {
            try start("maintenance", ["--listen", maintenance, "--kv", kv])
        }

        func startAuth() throws -> LoggedProcess {
            try start("auth", [
                "--data-dir", directory + "/auth", "--listen", "ipc://\(directory)/auth.sock",
                "--events", "ipc://\(directory)/auth-events.sock",
            ])
        }

        func startGateway(port: Int, maintenance: Bool) throws -> LoggedProcess {
            try start("gateway", ["--listen-client-urls", "http://127.0.0.1:\(port)", "--kv", kv] + (maintenance ? ["--maintenance", self.maintenance] : []))
        }
    }

    private static func serving(_ process: LoggedProcess, _ line: String) async -> Bool {
        _ = await eventually { process.log.contains(line) || !process.process.isRunning }
        return process.log.contains(line)
    }

    @Test("every service, sent SIGTERM as soon as it is started, stops", arguments: ["kv", "lease", "watch", "maintenance", "auth", "gateway"])
    func starting(service: String) async throws {
        let split = Split()
        let process: LoggedProcess = switch service {
        case "kv": try split.startKV()
        case "lease": try split.startLease()
        case "watch": try split.startWatch()
        case "maintenance": try split.startMaintenance()
        case "auth": try split.startAuth()
        default: try split.startGateway(port: FreePort.pick(), maintenance: false)
        }
        defer { process.stop() }
        await Self.expectStopsOnSIGTERM(process, "\(service) starting")
    }

    @Test("lease, watch, maintenance and gateway waiting for a kv store that never comes stop", arguments: ["lease", "watch", "maintenance", "gateway"])
    func waitingForKV(service: String) async throws {
        let split = Split()
        let port = FreePort.pick()
        let process: LoggedProcess = switch service {
        case "lease": try split.startLease()
        case "watch": try split.startWatch()
        case "maintenance": try split.startMaintenance()
        default: try split.startGateway(port: port, maintenance: false)
        }
        defer { process.stop() }
        if service == "gateway" {
            // The gateway logs its wait every 40 attempts; its client port stays closed meanwhile.
            try await Task.sleep(for: .seconds(2))
            #expect(!FreePort.isAccepting(port), "the gateway does not serve without its kv store")
        } else {
            #expect(await Self.serving(process, "waiting for the kv service"), "\(service) waits: \(process.log)")
        }
        await Self.expectStopsOnSIGTERM(process, "\(service) waiting for the kv store")
    }

    @Test("a gateway whose kv store answers, waiting for a maintenance service that never comes, stops")
    func gatewayWaitingForMaintenance() async throws {
        let split = Split()
        let kv = try split.startKV()
        defer { kv.stop() }
        #expect(await Self.serving(kv, "kv service serving"), "\(kv.log)")
        let port = FreePort.pick()
        let gateway = try split.startGateway(port: port, maintenance: true)
        defer { gateway.stop() }
        try await Task.sleep(for: .seconds(2))
        #expect(!FreePort.isAccepting(port), "the gateway does not serve without its maintenance service")
        await Self.expectStopsOnSIGTERM(gateway, "gateway waiting for maintenance")
        await Self.expectStopsOnSIGTERM(kv, "kv serving")
    }

    @Test("every service of a split deployment stops while serving, the gateway first and the kv store last; one sent SIGTERM twice too")
    func serving() async throws {
        let split = Split()
        let port = FreePort.pick()
        let kv = try split.startKV()
        defer { kv.stop() }
        let lease = try split.startLease()
        defer { lease.stop() }
        let watch = try split.startWatch()
        defer { watch.stop() }
        let maintenance = try split.startMaintenance()
        defer { maintenance.stop() }
        let auth = try split.startAuth()
        defer { auth.stop() }
        let gateway = try split.startGateway(port: port, maintenance: true)
        defer { gateway.stop() }
        for (process, line) in [
            (kv, "kv service serving"), (lease, "lease service serving"), (watch, "watch service serving"),
            (maintenance, "maintenance service serving"), (auth, "auth service serving"), (gateway, "gateway serving etcd gRPC API"),
        ] {
            #expect(await Self.serving(process, line), "\(process.log)")
        }
        #expect(try await Etcdctl.run(["put", "k", "v"], endpoint: "127.0.0.1:\(port)").stdout == "OK\n")
        await Self.expectStopsOnSIGTERM(gateway, "gateway serving")
        await Self.expectStopsOnSIGTERM(auth, "auth serving", secondSignal: true)
        for (process, name) in [(maintenance, "maintenance"), (watch, "watch"), (lease, "lease"), (kv, "kv")] {
            await Self.expectStopsOnSIGTERM(process, "\(name) serving")
        }
    }

    @Test("the launcher stops when sent SIGTERM while its services start")
    func launcherStarting() async throws {
        let directory = TestPaths.temporaryDirectory(prefix: "sigterm-launcher")
        let port = FreePort.pick()
        let launcher = try LoggedProcess(
            executable: TestPaths.executable("etcetera"),
            arguments: ["--data-dir", directory + "/data", "--listen-client-urls", "http://127.0.0.1:\(port)", "--advertise-client-urls", "http://127.0.0.1:\(port)"],
            logPath: directory + "/log")
        defer { launcher.stop() }
        #expect(await eventually { launcher.log.contains("started service") }, "\(launcher.log)")
        await Self.expectStopsOnSIGTERM(launcher, "launcher starting")
        #expect(await Self.noServiceLeft(of: directory + "/data"))
    }

    @Test("the launcher stops when sent SIGTERM while serving, and again while it stops its services")
    func launcherServing() async throws {
        for secondSignal in [false, true] {
            let etcetera = try await ServerProcess.etcetera()
            defer { etcetera.stop() }
            #expect(await eventually { etcetera.log.contains("ready to serve client requests") }, "\(etcetera.log)")
            let stopped = await etcetera.process.stop(signal: SIGTERM, grace: .seconds(10), repeatAfter: secondSignal ? .milliseconds(100) : nil)
            #expect(stopped, "still running 10 s after SIGTERM\n\(etcetera.log)")
            #expect(etcetera.process.terminationReason == .exit && etcetera.process.terminationStatus == 0, "\(etcetera.log)")
            if !secondSignal { Self.expectServicesStoppedGracefully(etcetera.log) }
            #expect(await Self.noServiceLeft(of: etcetera.dataDirectory))
        }
    }

    @Test("the launcher and its kv store stop when sent SIGTERM in the middle of a defragment or a physical compaction",
          arguments: ["defrag", "compaction"])
    func launcherMidMaintenance(operation: String) async throws {
        let etcetera = try await ServerProcess.etcetera()
        defer { etcetera.stop() }
        // Enough data that the operation takes a while: 4,000 revisions of 4 KiB, in few requests, so
        // that a busy machine still writes them in minutes.
        let load = try await Command.run(TestPaths.executable("etcetera-bench"), [
            "--endpoints", etcetera.endpoint, "--clients", "8", "--conns", "2",
            "put", "--total", "4000", "--key-space-size", "2000", "--sequential-keys", "--val-size", "4096",
        ], timeout: .seconds(480))
        #expect(load.status == 0, "\(load.stderr)")
        let status = try await Etcdctl.run(["endpoint", "status", "-w", "json"], endpoint: etcetera.endpoint)
        let revision = try #require(status.stdout.firstMatch(of: /"revision":(\d+)/).map { String($0.1) }, "\(status.stdout)")
        let arguments = operation == "defrag" ? ["defrag"] : ["compaction", "--physical", revision]
        let running = try Etcdctl.start(arguments, endpoint: etcetera.endpoint)
        defer { running.stop() }
        if operation == "defrag" {
            #expect(await eventually { etcetera.log.contains("starting to defragment") }, "\(etcetera.log)")
        }
        let stopped = await etcetera.process.stop(signal: SIGTERM, grace: .seconds(10))
        #expect(stopped, "still running 10 s after SIGTERM during \(operation)\n\(etcetera.log)")
        #expect(etcetera.process.terminationReason == .exit && etcetera.process.terminationStatus == 0, "\(etcetera.log)")
        #expect(!etcetera.log.contains("did not stop in time"), "the kv store stopped by itself\n\(etcetera.log)")
        Self.expectServicesStoppedGracefully(etcetera.log)
        #expect(await Self.noServiceLeft(of: etcetera.dataDirectory))
    }

    /// Every service the launcher stopped exited by itself with status 0 (no forced exit, no SIGKILL).
    private static func expectServicesStoppedGracefully(_ log: String) {
        let stops = Log.lines(of: log, containing: [" stopped ("])
        #expect(!stops.isEmpty, "the launcher reported its services' stops\n\(log)")
        #expect(stops.allSatisfy { $0.contains("(exit code 0)") }, "\(stops)\n\(log)")
        #expect(!log.contains("did not shut down within") && !log.contains("did not stop in time"), "\(log)")
    }

    /// Whether no process whose command line names `dataDirectory` runs any more (the services).
    private static func noServiceLeft(of dataDirectory: String) async -> Bool {
        await eventually(within: .seconds(10)) {
            let pgrep = Process()
            pgrep.executableURL = URL(fileURLWithPath: "/usr/bin/pgrep")
            pgrep.arguments = ["-f", dataDirectory]
            pgrep.standardOutput = FileHandle.nullDevice
            guard (try? pgrep.runAlone()) != nil, pgrep.waitForExit(within: .seconds(10)) else { return false }
            return pgrep.terminationStatus == 1
        }
    }
}
