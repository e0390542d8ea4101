import Foundation
import TestSupport
import Testing

@Suite("compose/docker-compose.yml", .timeLimit(.minutes(10)))
struct ComposeFileTests {
    @Test("docker-compose config accepts it: one container per service, the bus on tcp://, data in volumes, 2379 published, watch scalable")
    func validAndScalable() async throws {
        let compose = try await ComposeFile.load()
        #expect(Set(compose.services.keys) == ["kv", "lease", "watch", "auth", "maintenance", "gateway"])
        for (name, service) in compose.services {
            #expect(service.command.first == "etcetera-\(name)", "\(name) runs its own executable")
            #expect(!service.command.contains { $0.contains("ipc://") }, "\(name) uses no ipc:// endpoint")
        }
        let watch = try #require(compose.services["watch"])
        #expect(watch.containerName == nil, "a fixed container name would stop --scale watch=3")
        #expect(watch.publishedPorts.isEmpty, "a published port would stop --scale watch=3")
        #expect(watch.command.contains("--announce"), "watch processes announce themselves instead of being listed")
        #expect(compose.services["gateway"]?.command.contains("--watch-registry") == true)
        #expect(compose.services["gateway"]?.command.contains("--watch") == false, "the gateway lists no watch process")
        #expect(compose.services["gateway"]?.publishedPorts == [2379])
        for (service, volume) in [("kv", "kv-data"), ("lease", "lease-data"), ("auth", "auth-data")] {
            #expect(compose.services[service]?.volumes.contains { $0.hasPrefix(volume + ":") } == true, "\(service) keeps its data in \(volume)")
            #expect(compose.namedVolumes.contains(volume))
        }
    }
}

/// The services started one by one, each exactly as compose/docker-compose.yml runs it in its container
/// (service names and ports mapped to free loopback ports), with two watch processes that announce
/// themselves to the gateway, as `docker-compose up --scale watch=2` would run them.
@Suite("Split processes wired as in compose/docker-compose.yml", .serialized, .timeLimit(.minutes(10)))
struct SplitProcessTests {
    /// The running services of one test.
    final class Deployment: @unchecked Sendable {
        let compose: ComposeFile
        let ports: [Int: Int]
        let root = TestPaths.temporaryDirectory(prefix: "split")
        private(set) var processes: [LoggedProcess] = []

        init(compose: ComposeFile) {
            self.compose = compose
            ports = compose.freePorts()
        }

        /// Starts a service; `watchPort` gives a watch process its own port (containers all use 2400).
        @discardableResult
        func start(_ service: String, watchPort: Int? = nil) throws -> LoggedProcess {
            var ports = ports
            if let watchPort { ports[2400] = watchPort }
            let command = try compose.localCommand(of: service, ports: ports, dataRoot: root)
            let process = try LoggedProcess(
                executable: command.executable, arguments: command.arguments,
                logPath: "\(root)/\(service)-\(processes.count).log")
            processes.append(process)
            return process
        }

        var clientEndpoint: String { "127.0.0.1:\(ports[2379]!)" }

        deinit { processes.reversed().forEach { $0.stop() } }
    }

    @Test("etcdctl is served across split processes; watch streams spread over both watch processes and move when one is killed, also to one added later")
    func splitDeployment() async throws {
        let program = try await GoProgram.build("watchfailover")
        let deployment = Deployment(compose: try await ComposeFile.load())
        for service in ["kv", "auth", "lease", "maintenance"] { try deployment.start(service) }
        let watchPorts = [FreePort.pick(), FreePort.pick(), FreePort.pick()]
        let first = try deployment.start("watch", watchPort: watchPorts[0])
        let second = try deployment.start("watch", watchPort: watchPorts[1])
        let gateway = try deployment.start("gateway")
        let endpoint = deployment.clientEndpoint
        #expect(await eventually { FreePort.isAccepting(deployment.ports[2379]!) }, "the gateway serves: \(gateway.log)")
        #expect(
            await eventually { !gateway.logLines(containing: "watch process live", "live=2").isEmpty },
            "both watch processes announced themselves and answer: \(gateway.log)")

        #expect(try await Etcdctl.run(["put", "split/key", "one"], endpoint: endpoint).stdout == "OK\n")
        #expect(try await Etcdctl.run(["get", "split/key"], endpoint: endpoint).stdout == "split/key\none\n")
        let txn = try await Etcdctl.run(
            ["txn"], endpoint: endpoint, input: "value(\"split/key\") = \"one\"\n\nput split/key two\n\nput split/key other\n\n")
        #expect(txn.stdout == "SUCCESS\n\nOK\n", "\(txn.stderr)")
        let lease = try await Etcdctl.grantLease(ttl: 60, endpoint: endpoint)
        #expect(try await Etcdctl.run(["put", "split/leased", "x", "--lease", lease], endpoint: endpoint).stdout == "OK\n")
        let timeToLive = try await Etcdctl.run(["lease", "timetolive", lease, "--keys"], endpoint: endpoint)
        #expect(timeToLive.stdout.contains("attached keys([split/leased])"), "\(timeToLive.stdout)\(timeToLive.stderr)")
        let status = try await Etcdctl.run(["endpoint", "status"], endpoint: endpoint)
        #expect(status.status == 0 && status.stdout.contains(endpoint), "\(status.stdout)\(status.stderr)")
        let history = "PUT\nsplit/key\none\nPUT\nsplit/key\ntwo\n"
        let watched = try await Etcdctl.runUntil(["watch", "split/key", "--rev", "1"], endpoint: endpoint) { $0.count >= history.count }
        #expect(watched == history)

        // Twenty streams go round the two live processes; killing one moves its sessions to the other.
        try await expectSessionsMove(from: first, port: watchPorts[0], to: "the other one", program: program, gateway: gateway, endpoint: endpoint)

        // A watch process started later (`--scale watch=3`) is used without telling the gateway.
        try deployment.start("watch", watchPort: watchPorts[2])
        #expect(
            await eventually { !gateway.logLines(containing: "watch process live", "127.0.0.1:\(watchPorts[2])").isEmpty },
            "the added watch process announced itself: \(gateway.log)")
        try await expectSessionsMove(from: second, port: watchPorts[1], to: "the added one", program: program, gateway: gateway, endpoint: endpoint)
    }

    /// Runs the failover client with 20 streams and kills `victim` a third of the way through: every
    /// watcher must see every event once, the victim must have had some of the streams and not all.
    private func expectSessionsMove(
        from victim: LoggedProcess, port: Int, to survivor: String, program: String, gateway: LoggedProcess, endpoint: String
    ) async throws {
        let victimEndpoint = "from=tcp://127.0.0.1:\(port)"
        let output = try await GoProgram.run(program, [endpoint, "20", "1500", String(victim.pid)])
        expectEveryWatcherSawEveryEvent(output, streams: 20, puts: 1500, "moving to \(survivor)")
        let moved = Set(gateway.logLines(containing: "moving watch session", victimEndpoint).compactMap { $0.firstMatch(of: /session=(\d+)/)?.1 })
        #expect((1..<20).contains(moved.count), "some but not all of the 20 sessions were on the killed process: \(moved.count)")
        #expect(!gateway.logLines(containing: "watch process lost", "127.0.0.1:\(port)").isEmpty, "the gateway noticed the loss")
    }
}
