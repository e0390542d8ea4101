import Bus
import CZeroMQ
import Foundation
import Testing

extension BusTests {
    @Suite("Wire format and garbage")
    struct Garbage {
        @Test("a foreign peer speaking the documented frames gets replies, pongs and partials")
        func foreignClient() async throws {
            let directory = try TemporaryDirectory()
            let endpoint = directory.endpoint("kv")
            let server = try BusServer(bind: endpoint, logger: testLogger())
            defer { server.close() }
            Task {
                try await server.run { request in
                    if request.payload == [UInt8]("stream") { request.sendPartial([UInt8]("p1")) }
                    request.reply([UInt8]("ok:") + request.payload)
                }
            }
            let peer = try RawSocket(type: ZMQ_DEALER)
            try peer.connect(endpoint)

            peer.send([wireHeader(command: Command.request, id: 42, argument: 5000), [UInt8]("hi")])
            #expect(peer.receive() == [wireHeader(command: Command.final, id: 42), [UInt8]("ok:hi")])

            peer.send([wireHeader(command: Command.ping, id: 7)])
            #expect(peer.receive() == [wireHeader(command: Command.pong, id: 7)])

            peer.send([wireHeader(command: Command.request, id: 0xFFFF_FFFF_FFFF_FFFF, argument: 5000), [UInt8]("stream")])
            #expect(peer.receive() == [wireHeader(command: Command.partial, id: 0xFFFF_FFFF_FFFF_FFFF), [UInt8]("p1")])
            #expect(peer.receive() == [wireHeader(command: Command.final, id: 0xFFFF_FFFF_FFFF_FFFF), [UInt8]("ok:stream")])
        }

        @Test("a server drops malformed messages and keeps serving good requests")
        func garbageToServer() async throws {
            let directory = try TemporaryDirectory()
            let endpoint = directory.endpoint("kv")
            let (server, _) = try startEchoServer(endpoint)
            defer { server.close() }
            let garbage = try RawSocket(type: ZMQ_DEALER)
            try garbage.connect(endpoint)

            let random = { (count: Int) -> [UInt8] in
                var bytes = [UInt8](repeating: 0, count: count)
                bytes.withUnsafeMutableBytes { raw in
                    var generator = SystemRandomNumberGenerator()
                    for offset in stride(from: 0, to: raw.count, by: 8) {
                        let word = generator.next()
                        let end = min(offset + 8, raw.count)
                        withUnsafeBytes(of: word) { raw[offset..<end].copyBytes(from: $0.prefix(end - offset)) }
                    }
                }
                return bytes
            }
            let malformed: [[[UInt8]]] = [
                [[]],
                [random(1)],
                [random(16)],
                [random(100), random(100), random(100)],
                [Array(wireHeader(command: Command.request, id: 1).prefix(15)), []],
                [wireHeader(command: Command.request, id: 1) + [0], []],
                [wireHeader(command: Command.request, id: 2)],
                [wireHeader(command: Command.request, id: 3), [1], [2]],
                [wireHeader(command: Command.ping, id: 4), [1]],
                [wireHeader(command: Command.final, id: 5), [1]],
                [wireHeader(command: Command.pong, id: 6)],
                [wireHeader(command: 0x7F, id: 7), [1]],
                [[0x45, 0x54, 0x02, 0x01] + Array(repeating: 0, count: 12), []],
                [[0x58, 0x54, 0x01, 0x01] + Array(repeating: 0, count: 12), []],
                [random(1 << 20)],
            ]
            for message in malformed { garbage.send(message) }
            for _ in 0..<200 { garbage.send([random(Int.random(in: 0..<40))]) }

            // The garbage peer is still served when it finally behaves.
            garbage.send([wireHeader(command: Command.request, id: 99, argument: 5000), [UInt8]("fine")])
            #expect(garbage.receive() == [wireHeader(command: Command.final, id: 99), [UInt8]("echo:fine")])

            let client = try BusClient(connect: endpoint, logger: testLogger())
            defer { client.close() }
            #expect(try await client.request([UInt8]("still there"), timeout: .seconds(5)) == [UInt8]("echo:still there"))
        }

        @Test("a client drops garbage replies and replies to unknown ids, and gets its real reply")
        func garbageToClient() async throws {
            let directory = try TemporaryDirectory()
            let endpoint = directory.endpoint("kv")
            let router = try RawSocket(type: ZMQ_ROUTER)
            try router.bind(endpoint)
            let client = try BusClient(connect: endpoint, logger: testLogger())
            defer { client.close() }

            let pending = Task { try await client.request([UInt8]("question"), timeout: .seconds(10)) }
            var request: [[UInt8]]?
            while let message = router.receive(timeout: .seconds(5)) {
                if message.count == 3 { request = message; break }
                if message.count == 2 {  // a PING: answer it, as a server must
                    router.send([message[0], wireHeader(command: Command.pong, id: 0)])
                }
            }
            let received = try #require(request)
            let identity = received[0]
            let header = received[1]
            #expect(header.count == 16)
            #expect(Array(header.prefix(4)) == [0x45, 0x54, 0x01, Command.request])
            #expect(received[2] == [UInt8]("question"))
            let id = header[4..<12].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }

            router.send([identity])
            router.send([identity, [1, 2, 3]])
            router.send([identity, wireHeader(command: Command.final, id: id)])
            router.send([identity, wireHeader(command: Command.final, id: id), [1], [2]])
            router.send([identity, wireHeader(command: Command.final, id: id &+ 1000), [UInt8]("unknown id")])
            router.send([identity, wireHeader(command: Command.request, id: id), [UInt8]("wrong way")])
            router.send([identity, wireHeader(command: 0x33, id: id), []])
            router.send([identity, Array(wireHeader(command: Command.final, id: id).dropLast()), []])
            router.send([identity, wireHeader(command: Command.partial, id: id), [UInt8]("part+")])
            router.send([identity, wireHeader(command: Command.final, id: id), [UInt8]("answer")])
            #expect(try await pending.value == [UInt8]("part+answer"))
        }
    }
}
