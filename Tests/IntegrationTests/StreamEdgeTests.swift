import EtceteraAPI
import Foundation
import GRPCCore
import SwiftProtobuf
import Synchronization
import TestSupport
import Testing

/// The client edge of HTTP/2 and HTTP/1.1 streams: one stream carries far more than any window, as a
/// long-running clientv3 client's keep-alive and watch streams do; connections that ping too often,
/// never start, or never finish their requests are refused, and what the gateway holds stays bounded.
@Suite("Client edge: streams", .serialized)
struct StreamEdgeTests {
    /// Bytes pushed through each single stream: sixteen times the stream window.
    static let streamBytes = 64 << 20
    /// Padding per request: an unknown field in a gRPC message, whitespace in a JSON one, so that a
    /// stream carries its 64 MiB in a few thousand requests.
    static let padding = 32 << 10

    /// `message` with an unknown field (number 1000) of `padding` bytes, which etcd's API ignores.
    static func padded<Message: SwiftProtobuf.Message>(_ message: Message) throws -> Message {
        var bytes: [UInt8] = try message.serializedBytes()
        bytes += [0xC2, 0x3E]  // field 1000, length-delimited
        var length = padding
        while length >= 0x80 {
            bytes.append(UInt8(length & 0x7F) | 0x80)
            length >>= 7
        }
        bytes.append(UInt8(length))
        bytes += [UInt8](repeating: UInt8(ascii: "p"), count: padding)
        return try Message(serializedBytes: bytes)
    }

    @Test("one gRPC Watch stream carries 64 MiB of creates, cancels and progress requests, and answers every one",
          .timeLimit(.minutes(5)))
    func grpcWatchStream() async throws {
        let etcetera = try await ServerProcess.etcetera()
        defer { etcetera.stop() }
        let rounds = Self.streamBytes / (3 * Self.padding)
        let counts = try await withEtcdClient(port: etcetera.port) { client in
            try await client.watch.watch(requestProducer: { writer in
                for round in 1...rounds {
                    try await writer.write(Self.padded(Etcdserverpb_WatchRequest.with {
                        $0.createRequest.key = Data("key/\(round)".utf8)
                        $0.createRequest.watchID = Int64(round)
                    }))
                    try await writer.write(Self.padded(Etcdserverpb_WatchRequest.with { $0.cancelRequest.watchID = Int64(round) }))
                    try await writer.write(Self.padded(Etcdserverpb_WatchRequest.with { $0.progressRequest = .init() }))
                }
            }, onResponse: { response in
                var counts = (created: 0, canceled: 0, progress: 0)
                for try await message in response.messages {
                    if message.created {
                        counts.created += 1
                    } else if message.canceled {
                        counts.canceled += 1
                    } else if message.watchID == -1, message.events.isEmpty {
                        counts.progress += 1
                    }
                    if counts.created + counts.canceled + counts.progress == 3 * rounds { break }
                }
                return counts
            })
        }
        #expect([counts.created, counts.canceled, counts.progress] == [Int](repeating: rounds, count: 3))
    }

    @Test("one gRPC LeaseKeepAlive stream carries 64 MiB of keep-alives, and answers every one", .timeLimit(.minutes(5)))
    func grpcKeepAliveStream() async throws {
        let etcetera = try await ServerProcess.etcetera()
        defer { etcetera.stop() }
        let keepAlives = Self.streamBytes / Self.padding
        let answered = try await withEtcdClient(port: etcetera.port) { client in
            let lease = try await client.lease.leaseGrant(.with { $0.ttl = 3600 }).id
            return try await client.lease.leaseKeepAlive(requestProducer: { writer in
                let request = try Self.padded(Etcdserverpb_LeaseKeepAliveRequest.with { $0.id = lease })
                for _ in 0..<keepAlives { try await writer.write(request) }
            }, onResponse: { response in
                var answered = 0
                for try await message in response.messages {
                    if message.id == lease, message.ttl > 3500 { answered += 1 }
                    if answered == keepAlives { break }
                }
                return answered
            })
        }
        #expect(answered == keepAlives)
    }

    @Test("one JSON-gateway watch request carries 64 MiB of creates, cancels and progress requests, and answers every one",
          .timeLimit(.minutes(5)))
    func jsonWatchStream() async throws {
        let etcetera = try await ServerProcess.etcetera()
        defer { etcetera.stop() }
        let rounds = Self.streamBytes / (3 * Self.padding)
        let spaces = String(repeating: " ", count: Self.padding)
        let lines = try Self.exchange(port: etcetera.port, path: "/v3/watch", expecting: 3 * rounds, rounds: rounds) { round in
            let key = Data("key/\(round)".utf8).base64EncodedString()
            return "{\"create_request\":{\"key\":\"\(key)\",\"watch_id\":\(round + 1)}\(spaces)}"
                + "{\"cancel_request\":{\(spaces)\"watch_id\":\(round + 1)}}"
                + "{\(spaces)\"progress_request\":{}}\n"
        }
        #expect(lines.filter { $0.contains("\"created\":true") }.count == rounds)
        #expect(lines.filter { $0.contains("\"canceled\":true") }.count == rounds)
        #expect(lines.filter { $0.contains("\"watch_id\":\"-1\"") }.count == rounds)
    }

    @Test("one JSON-gateway keep-alive request carries 64 MiB of keep-alives, and answers every one", .timeLimit(.minutes(5)))
    func jsonKeepAliveStream() async throws {
        let etcetera = try await ServerProcess.etcetera()
        defer { etcetera.stop() }
        let granted = try PlainHTTP.request("POST", "/v3/lease/grant", port: etcetera.port, body: "{\"TTL\":3600}")
        let id = try #require(granted.body.firstMatch(of: /"ID":"(\d+)"/).map { String($0.1) }, "\(granted.body)")
        let keepAlives = Self.streamBytes / Self.padding
        let spaces = String(repeating: " ", count: Self.padding)
        let lines = try Self.exchange(port: etcetera.port, path: "/v3/lease/keepalive", expecting: keepAlives, rounds: keepAlives) { _ in
            "{\"ID\":\(spaces)\"\(id)\"}\n"
        }
        #expect(lines.filter { $0.contains("\"ID\":\"\(id)\"") && $0.contains("\"TTL\":\"3600\"") }.count == keepAlives)
    }

    /// Sends `rounds` pieces of body made by `piece` on one chunked request from another thread while
    /// reading `expecting` answer lines; fails if an answer takes more than 30 s.
    private static func exchange(
        port: Int, path: String, expecting: Int, rounds: Int, _ piece: @escaping @Sendable (Int) -> String
    ) throws -> [String] {
        let request = try PlainHTTP.ChunkedRequest("POST", path, port: port)
        defer { request.close() }
        let sendFailure = Mutex<(any Error)?>(nil)
        let sender = Thread {
            do {
                for round in 0..<rounds { try request.send(piece(round)) }
            } catch {
                sendFailure.withLock { $0 = error }
            }
        }
        sender.start()
        var lines: [String] = []
        while lines.count < expecting {
            guard let line = try request.nextLine(timeout: 30) else {
                throw TestFailure("\(lines.count) of \(expecting) answers, then none for 30 s; sending: \(String(describing: sendFailure.withLock { $0 }))")
            }
            lines.append(line)
        }
        return lines
    }
}
