import Bus
import Foundation
import Testing

extension BusTests {
    @Suite("Throughput")
    struct Throughput {
        /// Round trips on loopback `ipc://` with 64 concurrent callers. The floor asserted here is low on
        /// purpose (debug build, shared 2-core machine); the measured rate is printed. For a real figure:
        /// `BUS_BENCH_REQUESTS=500000 swift test -c release --filter Throughput`.
        @Test("64 concurrent callers sustain a high request rate over ipc")
        func roundTripsPerSecond() async throws {
            let directory = try TemporaryDirectory()
            let endpoint = directory.endpoint("bench")
            let (server, _) = try startEchoServer(endpoint)
            defer { server.close() }
            let client = try BusClient(connect: endpoint, logger: testLogger())
            defer { client.close() }
            _ = try await client.request([], timeout: .seconds(5))

            let total = ProcessInfo.processInfo.environment["BUS_BENCH_REQUESTS"].flatMap(Int.init) ?? 50_000
            let callers = 64
            let payload = [UInt8](repeating: 0xAB, count: 64)
            let start = ContinuousClock.now
            let failures = try await withThrowingTaskGroup(of: Int.self) { group in
                for caller in 0..<callers {
                    group.addTask {
                        var failures = 0
                        for _ in 0..<(total / callers + (caller < total % callers ? 1 : 0)) {
                            let reply = try await client.request(payload, timeout: .seconds(10))
                            if reply.count != payload.count + 5 { failures += 1 }
                        }
                        return failures
                    }
                }
                return try await group.reduce(0, +)
            }
            let elapsed = ContinuousClock.now - start
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            let rate = Double(total) / seconds
            print("bus throughput: \(total) round trips, \(callers) callers, \(Int(rate)) per second")
            #expect(failures == 0)
            #expect(rate > 2_000)
        }
    }
}
