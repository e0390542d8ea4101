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
/// `ETCETERA_FLOOD_KEEPALIVES` sets the flood's size (default 50,000, seconds on a busy box);
/// docs/reliability.md records a run with 1,000,000.
@Suite("Client edge: floods", .serialized)
struct FloodTests {
    private static let keepAlives = ProcessInfo.processInfo.environment["ETCETERA_FLOOD_KEEPALIVES"].flatMap(Int.init) ?? 50_000

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
        // A gRPC client that never reads its watch stream: its transport stops reading once its
        // window for the stream is full, as clientv3's does when its application stops reading.
        let watchSent = Atomic(0)
        let watcher = Task {
            try await withEtcdClient(port: etcetera.port) { client in
                try await client.watch.watch(requestProducer: { writer in
                    try await writer.write(.with {
                        $0.createRequest.key = Data("flood/".utf8)
                        $0.createRequest.rangeEnd = Data("flood0".utf8)
                    })
                    while true {
                        try await writer.write(.with { $0.progressRequest = .init() })
                        watchSent.add(1, ordering: .relaxed)
                    }
                }, onResponse: { _ in try await Task.sleep(for: .seconds(3600)) })
            }
        }
        defer { watcher.cancel() }

        let answered = try await withEtcdClient(port: etcetera.port) { client in
            for index in 0..<2000 {
                _ = try await client.kv.put(.with {
                    $0.key = Data("flood/\(index % 100)".utf8)
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
        let watchStalled = await Self.stalls { watchSent.load(ordering: .relaxed) }
        let watchCount = watchSent.load(ordering: .relaxed)
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

    /// Waits until `count` stops growing for 3 s (at most 60 s); whether it did.
    private static func stalls(_ count: @Sendable () -> Int) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(60)
        var last = count()
        var unchangedSince = ContinuousClock.now
        while ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(200))
            let current = count()
            if current != last {
                last = current
                unchangedSince = .now
            } else if ContinuousClock.now - unchangedSince >= .seconds(3) {
                return true
            }
        }
        return false
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
