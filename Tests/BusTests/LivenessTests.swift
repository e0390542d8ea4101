import Bus
import CZeroMQ
import Foundation
import Testing

extension BusTests {
    @Suite("Liveness and reconnection")
    struct Liveness {
        @Test("with no server listening, a request fails with unavailable well before its timeout")
        func noServer() async throws {
            let directory = try TemporaryDirectory()
            let client = try BusClient(
                connect: directory.endpoint("nobody"), configuration: fastClientConfiguration(), logger: testLogger())
            defer { client.close() }

            for _ in 0..<3 {
                let (error, elapsed) = await timedFailure { () async throws(BusError) in
                    try await client.request([UInt8]("anyone?"), timeout: .seconds(10))
                }
                #expect(error == .unavailable)
                #expect(elapsed < .milliseconds(500))
            }
            #expect(!client.isPeerAlive)
        }

        @Test("a server that holds every request while the client keeps sending is alive, not dead")
        func busyServerIsAlive() async throws {
            let directory = try TemporaryDirectory()
            let endpoint = directory.endpoint("busy")
            let server = try BusServer(bind: endpoint, logger: testLogger())
            defer { server.close() }
            let held = HeldRequests()
            Task { try await server.run { held.append($0) } }
            let client = try BusClient(connect: endpoint, configuration: fastClientConfiguration(), logger: testLogger())
            defer { client.close() }
            #expect(await eventually { client.isPeerAlive })

            // A request every 30 ms for a second, none answered meanwhile: the client never goes a
            // heartbeat interval (100 ms) without sending, and hears no reply for ten intervals.
            let calls = (0..<33).map { index in
                Task { () async -> BusError? in
                    try? await Task.sleep(for: .milliseconds(30 * index))
                    do throws(BusError) {
                        _ = try await client.request([UInt8]("\(index)"), timeout: .seconds(10))
                        return nil
                    } catch {
                        return error
                    }
                }
            }
            try await Task.sleep(for: .milliseconds(1100))
            #expect(client.isPeerAlive)
            #expect(await eventually { held.count == 33 })
            for request in held.removeAll() { request.reply([UInt8]("late")) }
            for call in calls { #expect(await call.value == nil) }
        }

        @Test("a closed server fails the requests in flight, and a new server on the same endpoint is used")
        func serverRestart() async throws {
            let directory = try TemporaryDirectory()
            let endpoint = directory.endpoint("kv")
            let server = try BusServer(bind: endpoint, logger: testLogger())
            let held = HeldRequests()
            let serving = Task { try await server.run { held.append($0) } }
            let client = try BusClient(connect: endpoint, configuration: fastClientConfiguration(), logger: testLogger())
            defer { client.close() }
            #expect(await eventually { client.isPeerAlive })

            let inFlight = (0..<10).map { index in
                Task { () async -> (BusError?, Duration) in
                    await timedFailure { () async throws(BusError) in
                        try await client.request([UInt8]("\(index)"), timeout: .seconds(30))
                    }
                }
            }
            #expect(await eventually { held.count == 10 })
            let closedAt = ContinuousClock.now
            server.close()
            try await serving.value
            for task in inFlight {
                let (error, _) = await task.value
                #expect(error == .unavailable)
            }
            // 3 missed heartbeats of 100 ms, plus slack for a loaded machine.
            #expect(ContinuousClock.now - closedAt < .milliseconds(1000))
            #expect(await eventually { !client.isPeerAlive })

            // The same endpoint, bound again at once, serves the same client.
            let (restarted, _) = try startEchoServer(endpoint)
            defer { restarted.close() }
            var reply: [UInt8]?
            let deadline = ContinuousClock.now + .seconds(5)
            while reply == nil && ContinuousClock.now < deadline {
                reply = try? await client.request([UInt8]("again"), timeout: .seconds(1))
                if reply == nil { try await Task.sleep(for: .milliseconds(20)) }
            }
            #expect(reply == [UInt8]("echo:again"))
            #expect(client.isPeerAlive)
        }

        @Test("a server that stops answering heartbeats is declared dead after the missed heartbeats")
        func silentServer() async throws {
            let directory = try TemporaryDirectory()
            let endpoint = directory.endpoint("silent")
            // A ROUTER that accepts the connection but never answers anything.
            let silent = try RawSocket(type: ZMQ_ROUTER)
            try silent.bind(endpoint)
            let client = try BusClient(connect: endpoint, configuration: fastClientConfiguration(), logger: testLogger())
            defer { client.close() }
            _ = silent.receive(timeout: .seconds(5))  // the client's first PING: the connection is up

            let (error, elapsed) = await timedFailure { () async throws(BusError) in
                try await client.request([UInt8]("hello?"), timeout: .seconds(30))
            }
            #expect(error == .unavailable)
            #expect(elapsed >= .milliseconds(200))
            #expect(elapsed < .milliseconds(1500))
            #expect(!client.isPeerAlive)
        }

        @Test("isPeerAlive follows the server: false before it starts, true while it answers, false after")
        func peerAliveFlag() async throws {
            let directory = try TemporaryDirectory()
            let endpoint = directory.endpoint("kv")
            let client = try BusClient(connect: endpoint, configuration: fastClientConfiguration(), logger: testLogger())
            defer { client.close() }
            try await Task.sleep(for: .milliseconds(200))
            #expect(!client.isPeerAlive)

            let (server, _) = try startEchoServer(endpoint)
            #expect(await eventually { client.isPeerAlive })
            try await Task.sleep(for: .milliseconds(500))  // several heartbeats while idle
            #expect(client.isPeerAlive)
            server.close()
            #expect(await eventually(within: .seconds(2)) { !client.isPeerAlive })
        }
    }
}
