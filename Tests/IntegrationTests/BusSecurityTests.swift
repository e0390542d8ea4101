import Bus
import EtceteraAPI
import Foundation
import Logging
import Synchronization
import TestSupport
import Testing

/// The bus on tcp:// as the executables run it: refused without keys, and with keys open only to
/// the clients the keys directory admits (docs/bus.md, "CURVE on tcp:// endpoints").
@Suite("Bus security of the executables")
struct BusSecurityTests {
    @Test("tcp:// without --bus-curve-keys: the launcher and a service exit non-zero naming --bus-curve-keys and --bus-insecure", .timeLimit(.minutes(5)))
    func plaintextRefusedAtStart() async throws {
        let directory = TestPaths.temporaryDirectory(prefix: "bus-plaintext")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let port = FreePort.pick()
        let url = "http://127.0.0.1:\(FreePort.pick())"
        let launcher = try await Command.run("/usr/bin/timeout", [
            "60", TestPaths.executable("etcetera"), "--data-dir", directory + "/data",
            "--listen-client-urls", url, "--advertise-client-urls", url, "--bus-listen", "tcp://127.0.0.1:\(port)",
        ])
        let kv = try await Command.run("/usr/bin/timeout", [
            "60", TestPaths.executable("etcetera-kv"), "--data-dir", directory + "/kv",
            "--listen", "tcp://127.0.0.1:\(port)", "--events", "tcp://127.0.0.1:\(port + 1)",
        ])
        for (name, output) in [("etcetera", launcher), ("etcetera-kv", kv)] {
            #expect(output.status != 0 && output.status != 124, "\(name) exits at once with an error: \(output.status)")
            #expect(output.stderr.contains("--bus-curve-keys") && output.stderr.contains("--bus-insecure"), "\(name): \(output.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: directory + "/data/member"), "the launcher started nothing")
    }

    @Test("with --bus-insecure a tcp:// service starts, and warns", .timeLimit(.minutes(5)))
    func insecureWarns() async throws {
        let directory = TestPaths.temporaryDirectory(prefix: "bus-insecure")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let port = FreePort.pick()
        let kv = try LoggedProcess(
            executable: TestPaths.executable("etcetera-kv"),
            arguments: ["--data-dir", directory + "/kv", "--listen", "tcp://127.0.0.1:\(port)", "--events", "tcp://127.0.0.1:\(FreePort.pick())", "--bus-insecure"],
            logPath: directory + "/kv.log")
        defer { kv.stop() }
        #expect(await eventually(within: .seconds(60)) { kv.log.contains("kv service serving") }, "\(kv.log)")
        #expect(kv.log.contains("--bus-insecure: tcp:// bus endpoints are plaintext"), "\(kv.log)")
    }

    @Test(
        "a keyed bus: a client with no key or a key not admitted gets no put, snapshot, event or announcement through; an admitted client does",
        .timeLimit(.minutes(10)))
    func onlyAdmittedClients() async throws {
        let directory = TestPaths.temporaryDirectory(prefix: "bus-keyed")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let keysDirectory = directory + "/keys"
        let made = try await Command.run(TestPaths.executable("etcetera"), ["bus-keys", keysDirectory])
        #expect(made.status == 0, "\(made.stderr)")
        let (requests, events, registry) = (FreePort.pick(), FreePort.pick(), FreePort.pick())
        let kv = try LoggedProcess(
            executable: TestPaths.executable("etcetera-kv"),
            arguments: [
                "--data-dir", directory + "/kv", "--listen", "tcp://127.0.0.1:\(requests)",
                "--events", "tcp://127.0.0.1:\(events)", "--bus-curve-keys", keysDirectory,
            ],
            logPath: directory + "/kv.log")
        defer { kv.stop() }
        let gateway = try LoggedProcess(
            executable: TestPaths.executable("etcetera-gateway"),
            arguments: [
                "--listen-client-urls", "http://127.0.0.1:\(FreePort.pick())", "--kv", "tcp://127.0.0.1:\(requests)",
                "--watch-registry", "tcp://127.0.0.1:\(registry)", "--bus-curve-keys", keysDirectory,
            ],
            logPath: directory + "/gateway.log")
        defer { gateway.stop() }

        let admitted = try BusCurveKeys.load(directory: keysDirectory)
        let stranger = try BusCurveKeys.makeKeyPair()
        let wrongKey = try BusCurveKeys(
            serverPublicKey: admitted.serverPublicKey, serverSecretKey: nil,
            clientPublicKey: stranger.publicKey, clientSecretKey: stranger.secretKey)
        let logger = Logger(label: "bus-security-test")

        var put = Etcetera_Kv_KVRequest()
        put.put.key = Data("intruder".utf8)
        put.put.value = Data("x".utf8)
        var snapshot = Etcetera_Kv_KVRequest()
        snapshot.snapshot = Etcetera_Kv_SnapshotRequest()
        var announcement = Etcetera_Watch_WatchProcessAnnouncement()
        announcement.endpoint = "tcp://127.0.0.1:1"

        // The admitted client first: once it is served, both servers are up.
        var trusted = BusClient.Configuration()
        trusted.curve = admitted
        let trustedKV = try BusClient(connect: "tcp://127.0.0.1:\(requests)", configuration: trusted, logger: logger)
        defer { trustedKV.close() }
        var status = Etcetera_Kv_KVRequest()
        status.status = Etcetera_Kv_StoreStatusRequest()
        #expect(await Self.eventuallySucceeds { try await trustedKV.request(status.serializedBytes(), timeout: .seconds(2)) },
                "the kv service answers an admitted client: \(kv.log)")
        let trustedRegistry = try BusClient(connect: "tcp://127.0.0.1:\(registry)", configuration: trusted, logger: logger)
        defer { trustedRegistry.close() }
        #expect(await Self.eventuallySucceeds { try await trustedRegistry.request(announcement.serializedBytes(), timeout: .seconds(2)) },
                "the registry takes an admitted announcement: \(gateway.log)")
        #expect(gateway.log.contains("watch process announced"))

        let outsiderEvents = Atomic<Int>(0)
        let trustedEvents = Atomic<Int>(0)
        var plaintext = BusClient.Configuration()
        plaintext.curve = nil
        var mistaken = BusClient.Configuration()
        mistaken.curve = wrongKey
        var subscribers: [EventSubscriber] = []
        defer { subscribers.forEach { $0.close() } }
        for outsider in [plaintext, mistaken] {
            let kvClient = try BusClient(connect: "tcp://127.0.0.1:\(requests)", configuration: outsider, logger: logger)
            defer { kvClient.close() }
            let registryClient = try BusClient(connect: "tcp://127.0.0.1:\(registry)", configuration: outsider, logger: logger)
            defer { registryClient.close() }
            #expect(!(await Self.succeeds { try await kvClient.request(put.serializedBytes(), timeout: .seconds(2)) }), "put refused")
            #expect(!(await Self.succeeds { try await kvClient.request(snapshot.serializedBytes(), timeout: .seconds(2)) }), "snapshot refused")
            var other = announcement
            other.endpoint = "tcp://127.0.0.1:2"
            #expect(!(await Self.succeeds { try await registryClient.request(other.serializedBytes(), timeout: .seconds(2)) }), "announcement refused")
            subscribers.append(try EventSubscriber(connect: "tcp://127.0.0.1:\(events)", logger: logger, curve: outsider.curve) { messages in
                outsiderEvents.add(messages.count, ordering: .relaxed)
            })
        }
        subscribers.append(try EventSubscriber(connect: "tcp://127.0.0.1:\(events)", logger: logger, curve: admitted) { messages in
            trustedEvents.add(messages.count, ordering: .relaxed)
        })
        // The kv publishes a heartbeat every 500 ms: the admitted subscriber sees several.
        #expect(await eventually(within: .seconds(30)) { trustedEvents.load(ordering: .relaxed) >= 3 })
        #expect(outsiderEvents.load(ordering: .relaxed) == 0, "no event reached a refused subscriber")
        #expect(!gateway.log.contains("endpoint=tcp://127.0.0.1:2 "), "the refused announcement never reached the gateway")

        var range = Etcetera_Kv_KVRequest()
        range.range.key = Data("intruder".utf8)
        let reply = try Etcetera_Kv_KVReply(serializedBytes: try await trustedKV.request(range.serializedBytes(), timeout: .seconds(10)))
        #expect(reply.range.kvs.isEmpty, "no refused put was applied")
        let admittedPut = try Etcetera_Kv_KVReply(serializedBytes: try await trustedKV.request(put.serializedBytes(), timeout: .seconds(10)))
        #expect(admittedPut.put.header.revision == 2, "the admitted client's put is applied")
        let part = try Etcetera_Kv_KVReply(serializedBytes: try await trustedKV.request(snapshot.serializedBytes(), timeout: .seconds(30)))
        #expect(part.snapshot.totalBytes > 0, "the admitted client reads a snapshot")
    }

    @Test("the watch registry holds at most 64 announced processes: the 65th announcement is refused", .timeLimit(.minutes(10)))
    func registryBounded() async throws {
        let directory = TestPaths.temporaryDirectory(prefix: "bus-registry")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let kv = try LoggedProcess(
            executable: TestPaths.executable("etcetera-kv"),
            arguments: ["--data-dir", directory + "/kv", "--listen", "ipc://\(directory)/kv.sock", "--events", "ipc://\(directory)/events.sock"],
            logPath: directory + "/kv.log")
        defer { kv.stop() }
        let gateway = try LoggedProcess(
            executable: TestPaths.executable("etcetera-gateway"),
            arguments: [
                "--listen-client-urls", "http://127.0.0.1:\(FreePort.pick())", "--kv", "ipc://\(directory)/kv.sock",
                "--watch-registry", "ipc://\(directory)/registry.sock",
            ],
            logPath: directory + "/gateway.log")
        defer { gateway.stop() }
        let registry = try BusClient(connect: "ipc://\(directory)/registry.sock", logger: Logger(label: "registry-test"))
        defer { registry.close() }
        func announce(_ index: Int) async throws -> Etcetera_Watch_WatchServiceReply {
            var announcement = Etcetera_Watch_WatchProcessAnnouncement()
            announcement.endpoint = "ipc://\(directory)/watch-\(index).sock"
            return try Etcetera_Watch_WatchServiceReply(serializedBytes: try await registry.request(announcement.serializedBytes(), timeout: .seconds(10)))
        }
        #expect(await Self.eventuallySucceeds { try await announce(0).serializedBytes() }, "the gateway serves its registry: \(gateway.log)")
        for index in 1..<64 {
            let reply = try await announce(index)
            guard case .ack = reply.reply else {
                Issue.record("announcement \(index) refused: \(reply)")
                return
            }
        }
        #expect(try await announce(64).error.code == "watch.registry_full")
        #expect(try await announce(3).ack == Etcetera_Watch_Ack(), "a known process announcing again is still welcome")
    }

    private static func succeeds(_ body: () async throws -> [UInt8]) async -> Bool {
        (try? await body()) != nil
    }

    /// Whether `body` succeeds within a minute of tries (the services are starting).
    private static func eventuallySucceeds(_ body: () async throws -> [UInt8]) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if await succeeds(body) { return true }
            try? await Task.sleep(for: .milliseconds(200))
        }
        return false
    }
}
