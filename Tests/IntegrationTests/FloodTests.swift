import EtceteraAPI
import Foundation
import GRPCCore
import Synchronization
import TestSupport
import Testing

/// Memory follows state, never traffic: a flood of keep-alives on one lease, a JSON keep-alive client
/// and a gRPC watch client that send and never read, and writes the watcher never reads, leave every
/// process within 64 MiB of its size before.
///
/// `ETCETERA_FLOOD_KEEPALIVES` sets the flood's size (default 20,000: seconds on a quiet machine);
/// docs/reliability.md records a run with 1,000,000.
@Suite("Client edge: floods", .serialized)
struct FloodTests {
    private static let keepAlives = ProcessInfo.processInfo.environment["ETCETERA_FLOOD_KEEPALIVES"].flatMap(Int.init) ?? 20_000

    @Test("keep-alives by the thousand and clients that never read leave every process within 64 MiB of its size",
          .timeLimit(.minutes(30)))
    func keepAliveFlood() async throws {
        let etcetera = try await ServerProcess.etcetera()
        defer { etcetera.stop() }
        let lease = try await withEtcdClient(port: etcetera.port) { client in
            try await client.lease.leaseGrant(.with { $0.ttl = 3600 }).id
        }
        let processes = ProcessMemory.children(of: etcetera.process.processIdentifier)
        try #require(processes.count >= 5, "\(processes)")
        let before = processes.map { ProcessMemory.residentBytes(of: $0.pid) ?? 0 }
        let started = ContinuousClock.now

        let stop = Atomic(false)
        let jsonSent = Self.neverReading { send in
            let request = try PlainHTTP.ChunkedRequest("POST", "/v3/lease/keepalive", port: etcetera.port)
            defer { request.close() }
            let batch = String(repeating: "{\"ID\":\"\(lease)\"}\n", count: 1000)
            while !stop.load(ordering: .relaxed) { try request.send(batch, timeout: 5); send(1000) }
        }
        // A gRPC client that never reads its watch stream: it never opens the stream's window to the
        // gateway, so the gateway's answers wait in the gateway.
        let watchSent = Self.neverReading { send in
            let connection = try RawHTTP2Connection(port: etcetera.port)
            defer { connection.close() }
            try connection.sendHeaders(stream: 1, path: "/etcdserverpb.Watch/Watch")
            try connection.sendData(stream: 1, Self.framed(Etcdserverpb_WatchRequest.with {
                $0.createRequest.key = Data("flood/".utf8)
                $0.createRequest.rangeEnd = Data("flood0".utf8)
            }))
            let progress = try Self.framed(Etcdserverpb_WatchRequest.with { $0.progressRequest = .init() })
            let batch = [[UInt8]](repeating: progress, count: 1000).flatMap { $0 }
            while !stop.load(ordering: .relaxed) {
                try connection.sendData(stream: 1, batch, timeout: 5)
                send(1000)
            }
        }

        let answered = try await withEtcdClient(port: etcetera.port) { client in
            for index in 0..<50 {
                _ = try await client.kv.put(.with {
                    $0.key = Data("flood/\(index)".utf8)
                    $0.value = Data(repeating: UInt8(ascii: "v"), count: 1000)
                })
            }
            return try await client.lease.leaseKeepAlive(requestProducer: { writer in
                for _ in 0..<Self.keepAlives { try await writer.write(.with { $0.id = lease }) }
            }, onResponse: { response in
                var answered = 0
                for try await message in response.messages {
                    if message.id == lease, message.ttl > 3500 { answered += 1 }
                    if answered == Self.keepAlives { break }
                }
                return answered
            })
        }
        let elapsed = ContinuousClock.now - started
        let (jsonStalled, jsonCount) = jsonSent.result()
        let (watchStalled, watchCount) = watchSent.result()
        stop.store(true, ordering: .relaxed)
        let after = processes.map { ProcessMemory.residentBytes(of: $0.pid) ?? 0 }
        let report = zip(processes, zip(before, after)).map { process, sizes in
            "\(process.name) \(sizes.0 >> 20) → \(sizes.1 >> 20) MiB"
        }.joined(separator: ", ")
        print("flood of \(Self.keepAlives) keep-alives in \(elapsed): \(report); never-reading clients sent \(jsonCount) JSON keep-alives and \(watchCount) watch requests")
        #expect(answered == Self.keepAlives)
        #expect(jsonStalled, "the gateway stopped reading the JSON client that never reads (\(jsonCount) sent)")
        #expect(watchStalled, "the gateway stopped reading the watch client that never reads (\(watchCount) sent)")
        for (process, sizes) in zip(processes, zip(before, after)) {
            #expect(sizes.1 - sizes.0 < 64 << 20, "\(process.name): \(report)")
        }
    }

    /// A client on its own thread that sends through `body` until the server stops reading it.
    private final class NeverReading: Sendable {
        private let state = Mutex((stalled: false, sent: 0))

        /// Whether the server stopped reading, and how many requests went before; waits until the
        /// client stalls (at most 60 s).
        func result() -> (stalled: Bool, sent: Int) {
            let deadline = Date().addingTimeInterval(60)
            while Date() < deadline, !state.withLock({ $0.stalled }) { usleep(50_000) }
            return state.withLock { ($0.stalled, $0.sent) }
        }

        fileprivate func count(_ sent: Int) { state.withLock { $0.sent += sent } }
        fileprivate func stalled() { state.withLock { $0.stalled = true } }
    }

    /// `request` as a gRPC message: the uncompressed flag and its big-endian length first.
    private static func framed(_ request: Etcdserverpb_WatchRequest) throws -> [UInt8] {
        let bytes: [UInt8] = try request.serializedBytes()
        return [0, UInt8(bytes.count >> 24), UInt8(bytes.count >> 16 & 0xFF), UInt8(bytes.count >> 8 & 0xFF), UInt8(bytes.count & 0xFF)] + bytes
    }

    private static func neverReading(_ body: @escaping @Sendable (_ sent: (Int) -> Void) throws -> Void) -> NeverReading {
        let client = NeverReading()
        Thread {
            do {
                try body { client.count($0) }
            } catch {
                client.stalled()
            }
        }.start()
        return client
    }
}
