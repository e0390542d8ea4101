import EtceteraAPI
import Foundation
import TestSupport
import Testing

/// The client edge of connections: etcd's gRPC keepalive rules (as grpc-go enforces them for etcd),
/// connections that never start, and a connection that opens thousands of streams with half-sent
/// bodies, which must not make the gateway hold what they announce.
@Suite("Client edge: connections", .serialized)
struct ConnectionEdgeTests {
    @Test("a client pinging faster than --grpc-keepalive-min-time gets GOAWAY ENHANCE_YOUR_CALM too_many_pings, as from etcd",
          .timeLimit(.minutes(5)))
    func tooManyPings() async throws {
        let etcd = try await ServerProcess.etcd()
        defer { etcd.stop() }
        let etcetera = try await ServerProcess.etcetera()
        defer { etcetera.stop() }
        var answers: [String] = []
        for server in [etcd, etcetera] {
            let connection = try RawHTTP2Connection(port: server.port)
            defer { connection.close() }
            for _ in 0..<5 { try? connection.sendPing() }
            let goAway = connection.awaitFrame(timeout: 10) { $0.type == RawHTTP2Connection.Frame.goAway }
            answers.append("\(goAway?.errorCode.map(String.init) ?? "none") \(goAway?.debugData ?? "") closed: \(connection.closedByServer(within: 10))")
        }
        #expect(answers[0] == "11 too_many_pings closed: true")
        #expect(answers[1] == answers[0])
    }

    @Test("pings no closer than --grpc-keepalive-min-time on a connection with a stream open are answered, not refused",
          .timeLimit(.minutes(5)))
    func pingsWithinPolicy() async throws {
        let etcetera = try await ServerProcess.etcetera(extraArguments: ["--grpc-keepalive-min-time", "100ms"])
        defer { etcetera.stop() }
        let connection = try RawHTTP2Connection(port: etcetera.port)
        defer { connection.close() }
        try connection.sendHeaders(stream: 1, path: "/etcdserverpb.Watch/Watch")
        var acks = 0
        for _ in 0..<6 {
            try await Task.sleep(for: .milliseconds(250))
            try connection.sendPing()
            let answer = connection.awaitFrame(timeout: 10) {
                $0.type == RawHTTP2Connection.Frame.goAway || ($0.type == RawHTTP2Connection.Frame.ping && $0.flags & 1 == 1)
            }
            if answer?.type == RawHTTP2Connection.Frame.ping { acks += 1 }
        }
        #expect(acks == 6)
    }

    @Test("a client that pings as grpc-go's bandwidth estimate does while it takes a 4 MiB answer in 16 KiB windows is never refused, as by etcd",
          .timeLimit(.minutes(5)))
    func pingsWhileReceiving() async throws {
        let etcd = try await ServerProcess.etcd()
        defer { etcd.stop() }
        let etcetera = try await ServerProcess.etcetera()
        defer { etcetera.stop() }
        let value = String(repeating: "v", count: 1 << 20)
        var outcomes: [String] = []
        for server in [etcd, etcetera] {
            for index in 0..<4 {
                _ = try await Etcdctl.run(["put", "big/\(index)"], endpoint: server.endpoint, input: value)
            }
            let connection = try RawHTTP2Connection(port: server.port)
            defer { connection.close() }
            var range = Etcdserverpb_RangeRequest()
            range.key = Data("big/".utf8)
            range.rangeEnd = Data("big0".utf8)
            let message: [UInt8] = try range.serializedBytes()
            try connection.sendHeaders(stream: 1, path: "/etcdserverpb.KV/Range")
            try connection.sendData(stream: 1, [0] + withUnsafeBytes(of: UInt32(message.count).bigEndian, Array.init) + message, endStream: true)
            // grpc-go's client: on DATA, give the window back, and ping unless a ping is unanswered.
            var received = 0
            var pingOutstanding = false
            var pings = 0
            var outcome = "no answer"
            while let frame = connection.nextFrame(timeout: 15) {
                if frame.type == RawHTTP2Connection.Frame.goAway {
                    outcome = "GOAWAY \(frame.errorCode.map(String.init) ?? "") \(frame.debugData)"
                    break
                }
                if frame.type == RawHTTP2Connection.Frame.ping, frame.flags & 1 == 1 { pingOutstanding = false }
                if frame.type == RawHTTP2Connection.Frame.data, !frame.payload.isEmpty {
                    received += frame.payload.count
                    try connection.sendWindowUpdate(stream: 1, increment: frame.payload.count)
                    try connection.sendWindowUpdate(stream: 0, increment: frame.payload.count)
                    if !pingOutstanding {
                        try connection.sendPing(UInt64(pings))
                        pings += 1
                        pingOutstanding = true
                    }
                }
                if frame.type == RawHTTP2Connection.Frame.headers, frame.flags & RawHTTP2Connection.endStream != 0 {
                    outcome = "answered"
                    break
                }
            }
            outcomes.append("\(outcome): \(received >= 4 << 20 ? "4 MiB or more" : "\(received) bytes"), pings \(pings >= 4 ? "enough to be refused" : "too few to tell")")
        }
        #expect(outcomes[0] == "answered: 4 MiB or more, pings enough to be refused")
        #expect(outcomes[1] == outcomes[0])
    }

    @Test("the server pings a silent connection every --grpc-keepalive-interval and closes it when no answer comes within --grpc-keepalive-timeout",
          .timeLimit(.minutes(5)))
    func serverPings() async throws {
        let etcetera = try await ServerProcess.etcetera(extraArguments: ["--grpc-keepalive-interval", "1s", "--grpc-keepalive-timeout", "1s"])
        defer { etcetera.stop() }
        let connection = try RawHTTP2Connection(port: etcetera.port)
        defer { connection.close() }
        let ping = connection.awaitFrame(timeout: 15) { $0.type == RawHTTP2Connection.Frame.ping && $0.flags & 1 == 0 }
        #expect(ping != nil, "the server pings a silent connection")
        #expect(connection.closedByServer(within: 15), "and closes it when the ping is not answered")
    }

    @Test("a connection that never shows its protocol is closed after the handshake timeout", .timeLimit(.minutes(5)))
    func handshakeTimeout() async throws {
        let etcetera = try await ServerProcess.etcetera()
        defer { etcetera.stop() }
        let silent = try RawHTTP2Connection(port: etcetera.port, opening: [])
        defer { silent.close() }
        let halfPreface = try RawHTTP2Connection(port: etcetera.port, opening: Array("PRI * HTTP/2.0\r\n".utf8))
        defer { halfPreface.close() }
        #expect(silent.closedByServer(within: 30))
        #expect(halfPreface.closedByServer(within: 5))
    }

    @Test("a connection with nothing in progress for --client-idle-timeout is closed, gRPC after GOAWAY NO_ERROR; open streams and a JSON watch outlive it",
          .timeLimit(.minutes(5)))
    func idleTimeout() async throws {
        let etcetera = try await ServerProcess.etcetera(extraArguments: ["--client-idle-timeout", "2s"])
        defer { etcetera.stop() }
        let idle = try RawHTTP2Connection(port: etcetera.port)
        defer { idle.close() }
        let busy = try RawHTTP2Connection(port: etcetera.port)
        defer { busy.close() }
        try busy.sendHeaders(stream: 1, path: "/etcdserverpb.Watch/Watch")
        let keptAlive = try PlainHTTP.Connection(port: etcetera.port)
        defer { keptAlive.close() }
        try keptAlive.send("GET", "/health", body: "", headers: [])
        #expect(keptAlive.receive(timeout: 10) != nil, "/health answered on a kept-alive connection")
        let watch = try PlainHTTP.ChunkedRequest("POST", "/v3/watch", port: etcetera.port)
        defer { watch.close() }
        try watch.send(#"{"create_request":{"key":"aWRsZQ=="}}"#)
        #expect(try watch.nextLine()?.contains("\"created\":true") == true)

        let goAway = idle.awaitFrame(timeout: 30) { $0.type == RawHTTP2Connection.Frame.goAway }
        #expect(goAway?.errorCode == 0, "GOAWAY NO_ERROR to the idle gRPC connection: \(goAway.map { "\($0)" } ?? "none")")
        #expect(idle.closedByServer(within: 10))
        var closed = false
        for _ in 0..<30 where !closed {
            _ = keptAlive.receive(timeout: 1)
            closed = keptAlive.isClosedByPeer
        }
        #expect(closed, "the kept-alive HTTP/1.1 connection is closed between requests")
        // Well past the timeout, the connections with something in progress are still served.
        #expect(try await Etcdctl.run(["put", "idle", "late"], endpoint: etcetera.endpoint).stdout == "OK\n")
        let event = try watch.nextLine(timeout: 30)
        #expect(event?.contains(Data("late".utf8).base64EncodedString()) == true, "the JSON watch still delivers: \(event ?? "nothing")")
        try busy.sendPing()
        let answer = busy.awaitFrame(timeout: 10) {
            $0.type == RawHTTP2Connection.Frame.goAway || ($0.type == RawHTTP2Connection.Frame.ping && $0.flags & 1 == 1)
        }
        #expect(answer?.type == RawHTTP2Connection.Frame.ping, "the gRPC connection with a stream open is still served")
    }

    @Test("hundreds of streams with half-sent 2 MB bodies on one connection are refused past its buffer budget; the gateway's memory stays bounded",
          .timeLimit(.minutes(5)))
    func halfSentBodies() async throws {
        let etcetera = try await ServerProcess.etcetera()
        defer { etcetera.stop() }
        let gateway = try Self.gatewayPID(of: etcetera)
        let before = try #require(ProcessMemory.residentBytes(of: gateway))
        let connection = try RawHTTP2Connection(port: etcetera.port)
        defer { connection.close() }
        // Each stream announces a 2,000,000-byte Put (0x1E8480) and sends half of it.
        let announced: [UInt8] = [0, 0x00, 0x1E, 0x84, 0x80] + [UInt8](repeating: 0, count: 1_000_000)
        let streams = 400
        var sent = 0
        do {
            for index in 0..<streams {
                let stream = UInt32(2 * index + 1)
                try connection.sendHeaders(stream: stream, path: "/etcdserverpb.KV/Put")
                try connection.sendData(stream: stream, announced, timeout: 10)
                sent += 1
            }
        } catch {
            Issue.record("stream \(sent + 1): \(error)")
        }
        // Nothing but a refusal ends one of these calls: trailers (HEADERS with END_STREAM).
        var refused = 0
        while let frame = connection.nextFrame(timeout: 2) {
            if frame.type == RawHTTP2Connection.Frame.headers, frame.flags & RawHTTP2Connection.endStream != 0 { refused += 1 }
        }
        let after = try #require(ProcessMemory.residentBytes(of: gateway))
        #expect(sent == streams, "every stream's half body was taken or dropped, none stalled the connection")
        #expect(refused > streams / 2, "\(refused) of \(sent) streams refused")
        // Without a budget the gateway would hold 400 MB of bodies; its budget is 64 MiB.
        #expect(after - before < 192 << 20, "RSS grew from \(before >> 20) MiB to \(after >> 20) MiB")
        let answer = try PlainHTTP.request("POST", "/v3/kv/put", port: etcetera.port, body: "{\"key\":\"Zm9v\",\"value\":\"YmFy\"}")
        #expect(answer.status == 200, "the gateway still serves: \(answer)")
    }

    @Test("thousands of calls opened and reset at once (\"rapid reset\") on one connection leave the gateway serving, its memory bounded",
          .timeLimit(.minutes(5)))
    func rapidReset() async throws {
        let etcetera = try await ServerProcess.etcetera()
        defer { etcetera.stop() }
        let gateway = try Self.gatewayPID(of: etcetera)
        let before = try #require(ProcessMemory.residentBytes(of: gateway))
        let connection = try RawHTTP2Connection(port: etcetera.port)
        defer { connection.close() }
        // A Range of "foo" (field 1, length 3), as one gRPC message.
        let range: [UInt8] = [0, 0, 0, 0, 5, 0x0A, 0x03] + Array("foo".utf8)
        for index in 0..<5000 {
            let stream = UInt32(2 * index + 1)
            try connection.sendHeaders(stream: stream, path: "/etcdserverpb.KV/Range")
            try connection.sendData(stream: stream, range, endStream: true)
            try connection.sendRstStream(stream: stream)
        }
        try connection.sendPing(42)
        let ack = connection.awaitFrame(timeout: 60) { $0.type == RawHTTP2Connection.Frame.ping && $0.flags & 1 == 1 }
        #expect(ack != nil, "the connection is still served after the resets")
        let after = try #require(ProcessMemory.residentBytes(of: gateway))
        #expect(after - before < 64 << 20, "RSS grew from \(before >> 20) MiB to \(after >> 20) MiB")
        let answer = try PlainHTTP.request("POST", "/v3/kv/range", port: etcetera.port, body: "{\"key\":\"Zm9v\"}")
        #expect(answer.status == 200, "the gateway still serves: \(answer)")
    }

    /// The gateway process the launcher started, whose memory the budget tests watch.
    private static func gatewayPID(of etcetera: ServerProcess) throws -> Int32 {
        try #require(ProcessMemory.children(of: etcetera.process.processIdentifier).first { $0.name == "etcetera-gateway" }).pid
    }
}
