import Bus
import Foundation
import Synchronization
import Testing

extension BusTests {
    @Suite("CURVE on tcp:// endpoints")
    struct Curve {
        @Test("this machine's libzmq has CURVE")
        func supported() {
            #expect(BusCurveKeys.isSupported)
        }

        @Test("a client holding the server's public key talks to a CURVE server; one holding another key, or none, never connects")
        func serverKeyDecides() async throws {
            let directory = try TemporaryDirectory()
            let keys = try BusCurveKeys.generate(into: directory.path + "/keys")
            var serverConfiguration = BusServer.Configuration()
            serverConfiguration.curve = keys
            let (server, endpoint) = try bindOnFreeTCPPort(configuration: serverConfiguration)
            defer { server.close() }
            Task { try await server.run { $0.reply([UInt8]("curve:") + $0.payload) } }

            // Default heartbeats: CURVE's crypto on a loaded machine must not pass for a dead server.
            var trusted = BusClient.Configuration()
            trusted.curve = try BusCurveKeys.load(directory: directory.path + "/keys")
            let client = try BusClient(connect: endpoint, configuration: trusted, logger: testLogger())
            defer { client.close() }
            #expect(try await client.request([7], timeout: .seconds(5)) == [UInt8]("curve:") + [7])

            let impostor = try BusCurveKeys.makeKeyPair()
            var mistaken = BusClient.Configuration()
            mistaken.curve = try BusCurveKeys(
                serverPublicKey: impostor.publicKey, serverSecretKey: nil,
                clientPublicKey: keys.clientPublicKey, clientSecretKey: keys.clientSecretKey)
            var plaintext = BusClient.Configuration()
            plaintext.curve = nil
            for configuration in [mistaken, plaintext] {
                let outsider = try BusClient(connect: endpoint, configuration: configuration, logger: testLogger())
                defer { outsider.close() }
                let (error, _) = await timedFailure { () async throws(BusError) in
                    try await outsider.request([7], timeout: .seconds(2))
                }
                #expect(error == .unavailable || error == .deadlineExceeded)
                #expect(!outsider.isPeerAlive)
            }
            #expect(try await client.request([8], timeout: .seconds(5)) == [UInt8]("curve:") + [8], "the trusted client is unaffected")
        }

        @Test("the event stream is encrypted too: only a subscriber with the server's public key receives")
        func eventStream() async throws {
            let directory = try TemporaryDirectory()
            let keys = try BusCurveKeys.generate(into: directory.path)
            let (publisher, endpoint) = try bindPublisherOnFreeTCPPort(curve: keys)
            defer { publisher.close() }
            let trustedCount = Atomic<Int>(0)
            let outsiderCount = Atomic<Int>(0)
            let trusted = try EventSubscriber(connect: endpoint, logger: testLogger(), curve: keys) { messages in
                trustedCount.add(messages.count, ordering: .relaxed)
            }
            defer { trusted.close() }
            let other = try BusCurveKeys.makeKeyPair()
            let outsider = try EventSubscriber(
                connect: endpoint, logger: testLogger(),
                curve: BusCurveKeys(
                    serverPublicKey: other.publicKey, serverSecretKey: nil,
                    clientPublicKey: keys.clientPublicKey, clientSecretKey: keys.clientSecretKey)
            ) { messages in outsiderCount.add(messages.count, ordering: .relaxed) }
            defer { outsider.close() }
            // Two handshakes with CURVE's crypto and ZAP on a loaded machine: a generous bound.
            #expect(await eventually(within: .seconds(20)) {
                publisher.publish([1])
                return trustedCount.load(ordering: .relaxed) >= 20
            })
            #expect(outsiderCount.load(ordering: .relaxed) == 0)
        }

        @Test("keys: generated ones load back, secrets are private, nothing is overwritten, bad keys and a server without its secret are refused")
        func keyFiles() throws {
            let directory = try TemporaryDirectory()
            let keys = try BusCurveKeys.generate(into: directory.path)
            #expect(try BusCurveKeys.load(directory: directory.path) == keys)
            let secret = try FileManager.default.attributesOfItem(atPath: directory.path + "/server.secret")[.posixPermissions] as? Int
            #expect(secret == 0o600)
            #expect(throws: BusError.curveKeysUnusable("")) { _ = try BusCurveKeys.generate(into: directory.path) }
            #expect(throws: BusError.curveKeysUnusable("")) {
                _ = try BusCurveKeys(serverPublicKey: "short", serverSecretKey: nil, clientPublicKey: keys.clientPublicKey, clientSecretKey: keys.clientSecretKey)
            }
            try FileManager.default.removeItem(atPath: directory.path + "/server.secret")
            let clientOnly = try BusCurveKeys.load(directory: directory.path)
            #expect(clientOnly.serverSecretKey == nil)
            var configuration = BusServer.Configuration()
            configuration.curve = clientOnly
            #expect(throws: BusError.bindFailed("", "")) { _ = try BusServer(bind: "tcp://127.0.0.1:0", configuration: configuration, logger: testLogger()) }
            try FileManager.default.removeItem(atPath: directory.path + "/client.secret")
            #expect(throws: BusError.curveKeysUnusable("")) { _ = try BusCurveKeys.load(directory: directory.path) }
        }
    }
}
