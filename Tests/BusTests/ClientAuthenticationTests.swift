import Bus
import Foundation
import Logging
import Synchronization
import Testing

extension BusTests {
    @Suite("Client authentication (ZAP) and the plaintext TCP rule")
    struct ClientAuthentication {
        /// Keys of a deployment, one more admitted client (`clients/NAME.public`), and an outsider that
        /// knows the server's public key but holds a pair nobody admitted.
        struct Deployment {
            let directory: TemporaryDirectory
            let keys: BusCurveKeys
            let admittedExtra: BusCurveKeys
            let outsider: BusCurveKeys

            init() throws {
                directory = try TemporaryDirectory()
                keys = try BusCurveKeys.generate(into: directory.path + "/keys")
                admittedExtra = try BusCurveKeys.load(
                    directory: BusCurveKeys.generateClient(named: "remote-watch", in: directory.path + "/keys"))
                let stranger = try BusCurveKeys.makeKeyPair()
                outsider = try BusCurveKeys(
                    serverPublicKey: keys.serverPublicKey, serverSecretKey: nil,
                    clientPublicKey: stranger.publicKey, clientSecretKey: stranger.secretKey)
            }

            /// The server's view: the directory loaded as a server process loads it.
            var serverKeys: BusCurveKeys { get throws { try BusCurveKeys.load(directory: directory.path + "/keys") } }
        }

        @Test("request/reply: a client with no key or a key not admitted gets no request to the handler; admitted keys do", .timeLimit(.minutes(1)))
        func requests() async throws {
            let deployment = try Deployment()
            var configuration = BusServer.Configuration()
            configuration.curve = try deployment.serverKeys
            #expect(configuration.curve?.admittedClientKeys.count == 2)
            let (server, endpoint) = try bindOnFreeTCPPort(configuration: configuration)
            defer { server.close() }
            let handled = Atomic<Int>(0)
            Task {
                try await server.run { request in
                    handled.add(1, ordering: .relaxed)
                    request.reply([UInt8]("ok:") + request.payload)
                }
            }

            var plaintext = BusClient.Configuration()
            plaintext.curve = nil
            var wrongKey = BusClient.Configuration()
            wrongKey.curve = deployment.outsider
            for refused in [plaintext, wrongKey] {
                let client = try BusClient(connect: endpoint, configuration: refused, logger: testLogger())
                defer { client.close() }
                for attempt in 0..<3 {
                    let (error, _) = await timedFailure { () async throws(BusError) in
                        try await client.request([UInt8(attempt)], timeout: .seconds(2))
                    }
                    #expect(error == .unavailable || error == .deadlineExceeded)
                }
                #expect(!client.isPeerAlive)
            }
            #expect(handled.load(ordering: .relaxed) == 0, "no refused request reached the handler")

            for admitted in [deployment.keys, deployment.admittedExtra] {
                var trusted = BusClient.Configuration()
                trusted.curve = admitted
                let client = try BusClient(connect: endpoint, configuration: trusted, logger: testLogger())
                defer { client.close() }
                #expect(try await client.request([9], timeout: .seconds(10)) == [UInt8]("ok:") + [9])
            }
            #expect(handled.load(ordering: .relaxed) == 2)
        }

        @Test("events: a subscriber with a key not admitted receives nothing, an admitted one receives", .timeLimit(.minutes(1)))
        func events() async throws {
            let deployment = try Deployment()
            let (publisher, endpoint) = try bindPublisherOnFreeTCPPort(curve: deployment.serverKeys)
            defer { publisher.close() }
            let admittedCount = Atomic<Int>(0)
            let outsiderCount = Atomic<Int>(0)
            let outsider = try EventSubscriber(connect: endpoint, logger: testLogger(), curve: deployment.outsider) { messages in
                outsiderCount.add(messages.count, ordering: .relaxed)
            }
            defer { outsider.close() }
            let admitted = try EventSubscriber(connect: endpoint, logger: testLogger(), curve: deployment.admittedExtra) { messages in
                admittedCount.add(messages.count, ordering: .relaxed)
            }
            defer { admitted.close() }
            #expect(await eventually(within: .seconds(20)) {
                publisher.publish([1])
                return admittedCount.load(ordering: .relaxed) >= 20
            })
            #expect(outsiderCount.load(ordering: .relaxed) == 0)
        }

        @Test("keys: secrets 0600 in a 0700 directory; a secret others can read is refused at load, naming chmod 600")
        func secretPermissions() throws {
            let directory = try TemporaryDirectory()
            let path = directory.path + "/keys"
            _ = try BusCurveKeys.generate(into: path)
            func mode(_ file: String) throws -> Int? {
                try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int
            }
            #expect(try mode(path) == 0o700)
            #expect(try mode(path + "/server.secret") == 0o600)
            #expect(try mode(path + "/client.secret") == 0o600)
            #expect(try mode(path + "/server.public") == 0o644)
            let client = try BusCurveKeys.generateClient(named: "w1", in: path)
            #expect(try mode(client + "/client.secret") == 0o600)
            #expect(throws: BusError.curveKeysUnusable("")) { _ = try BusCurveKeys.generateClient(named: "../x", in: path) }

            chmod(path + "/server.secret", 0o644)
            #expect(throws: BusError.curveKeysUnusable("")) { _ = try BusCurveKeys.load(directory: path) }
            do {
                _ = try BusCurveKeys.load(directory: path)
            } catch {
                #expect("\(error)".contains("chmod 600"), "\(error)")
            }
            chmod(path + "/server.secret", 0o600)
            chmod(path + "/client.secret", 0o640)
            #expect(throws: BusError.curveKeysUnusable("")) { _ = try BusCurveKeys.load(directory: path) }
        }

        @Test("plaintext tcp://: the launcher's check refuses it without keys, naming both flags, warns with --bus-insecure, and refuses unusable keys")
        func plaintextCheck() throws {
            let tcp = ["ipc:///tmp/x.sock", "tcp://127.0.0.1:2390"]
            do {
                _ = try BusTransportSecurity.check(endpoints: tcp, curveKeysDirectory: nil, insecure: false)
                Issue.record("plaintext tcp:// was accepted")
            } catch {
                #expect(error == .plaintextRefused("", ""))
                #expect("\(error)".contains("--bus-curve-keys") && "\(error)".contains("--bus-insecure"), "\(error)")
            }
            #expect(try BusTransportSecurity.check(endpoints: tcp, curveKeysDirectory: nil, insecure: true) == BusTransportSecurity.insecureWarning)
            let directory = try TemporaryDirectory()
            #expect(throws: BusError.curveKeysUnusable("")) {
                _ = try BusTransportSecurity.check(endpoints: tcp, curveKeysDirectory: directory.path + "/none", insecure: false)
            }
            _ = try BusCurveKeys.generate(into: directory.path + "/keys")
            #expect(try BusTransportSecurity.check(endpoints: tcp, curveKeysDirectory: directory.path + "/keys", insecure: false) == nil)
            #expect(try BusTransportSecurity.check(endpoints: ["ipc:///tmp/x.sock"], curveKeysDirectory: nil, insecure: false) == nil)
        }

        @Test("plaintext tcp://: once a process has refused it, bus objects refuse to bind or connect a tcp:// endpoint without keys")
        func plaintextRefusedByBusObjects() throws {
            let logger = testLogger()
            try BusTransportSecurity.useForThisProcess(curveKeysDirectory: nil, insecure: false, logger: logger)
            // The other bus tests use plaintext TCP: allow it again whatever happens here.
            defer { try? BusTransportSecurity.useForThisProcess(curveKeysDirectory: nil, insecure: true, logger: logger) }
            var plain = BusServer.Configuration()
            plain.curve = nil
            #expect(throws: BusError.bindFailed("", "")) { _ = try BusServer(bind: "tcp://127.0.0.1:0", configuration: plain, logger: logger) }
            var plainClient = BusClient.Configuration()
            plainClient.curve = nil
            #expect(throws: BusError.connectFailed("", "")) {
                _ = try BusClient(connect: "tcp://127.0.0.1:1", configuration: plainClient, logger: logger)
            }
            #expect(throws: BusError.bindFailed("", "")) { _ = try EventPublisher(bind: "tcp://127.0.0.1:0", logger: logger, curve: nil) }
            #expect(throws: BusError.connectFailed("", "")) {
                _ = try EventSubscriber(connect: "tcp://127.0.0.1:1", logger: logger, curve: nil) { _ in }
            }
            let directory = try TemporaryDirectory()
            let server = try BusServer(bind: directory.endpoint("still-fine"), configuration: plain, logger: logger)
            server.close()
        }
    }
}
