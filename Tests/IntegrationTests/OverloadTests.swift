import EtceteraAPI
import Foundation
import GRPCCore
import Synchronization
import TestSupport
import Testing

/// Floods of the two calls that cost a service the most (Authenticate: a bcrypt run each, with no
/// token needed; Snapshot: a full copy of the store on disk each) while another client puts and
/// reads. The services' bounded queues turn the excess away at once with etcd's `too many requests`,
/// so the other client's calls keep succeeding. Latencies are printed (docs/reliability.md,
/// "Overload"), never asserted: the machine's load decides them.
///
/// The floods are small and cheap by default (bcrypt cost 6), so that they do not starve the tests
/// running beside them; `OVERLOAD_FLOOD_SCALE=8` makes them eight times longer, at etcd's default
/// bcrypt cost 10, for the figures in docs/reliability.md.
@Suite("Overload: floods of Authenticate and Snapshot", .serialized)
struct OverloadTests {
    private static let measured = ProcessInfo.processInfo.environment["OVERLOAD_FLOOD_SCALE"].flatMap(Int.init).map { min(max($0, 1), 64) }
    private static let scale = measured ?? 1

    @Test("during a flood of Authenticate calls, puts and ranges with a token still succeed; the excess gets etcd's too many requests", .timeLimit(.minutes(5)))
    func authenticateFlood() async throws {
        let etcetera = try await ServerProcess.etcetera(extraArguments: ["--bcrypt-cost", Self.measured == nil ? "6" : "10"])
        defer { etcetera.stop() }
        try await withEtcdClient(port: etcetera.port) { client in
            _ = try await client.auth.userAdd(.with { $0.name = "root"; $0.password = "rootpw" })
            _ = try await client.auth.userGrantRole(.with { $0.user = "root"; $0.role = "root" })
            _ = try await client.auth.authEnable(.init())
            let response = try await client.auth.authenticate(.with { $0.name = "root"; $0.password = "rootpw" })
            var token = Metadata()
            token.addString(response.token, forKey: "token")
            let quiet = try await Self.measure(client, metadata: token, operations: 50)
            let (underFlood, seen) = try await Self.flood(client, metadata: token, tasks: 32, callsEach: 2 * Self.scale) {
                _ = try await client.auth.authenticate(.with { $0.name = "root"; $0.password = "rootpw" })
            }
            print("Authenticate flood (\(64 * Self.scale) calls, 32 at a time, bcrypt cost \(Self.measured == nil ? 6 : 10)): \(seen)")
            print("put+range without flood: \(quiet); during the flood: \(underFlood)")
            // A check that waited longer than the gateway's request timeout (a busy machine) times out instead.
            let expected = ["ok", "resourceExhausted: etcdserver: too many requests", "unavailable: etcdserver: request timed out"]
            #expect(seen.keys.allSatisfy(expected.contains), "\(seen)")
            #expect(seen["ok", default: 0] > 0, "\(seen)")
        }
    }

    @Test("during a flood of Snapshot calls, puts and ranges still succeed; snapshots beyond the limit get etcd's too many requests", .timeLimit(.minutes(5)))
    func snapshotFlood() async throws {
        let etcetera = try await ServerProcess.etcetera()
        defer { etcetera.stop() }
        try await withEtcdClient(port: etcetera.port) { client in
            let value = Data(repeating: 0x61, count: 8192)
            for index in 0..<250 {
                _ = try await client.kv.put(.with { $0.key = Data("fill/\(index)".utf8); $0.value = value })
            }
            let quiet = try await Self.measure(client, metadata: Metadata(), operations: 50)
            let (underFlood, seen) = try await Self.flood(client, metadata: Metadata(), tasks: 8, callsEach: 2 * Self.scale) {
                try await client.maintenance.snapshot(.init()) { response in
                    for try await _ in response.messages {}
                }
            }
            print("Snapshot flood (\(16 * Self.scale) calls, 8 at a time): \(seen)")
            print("put+range without flood: \(quiet); during the flood: \(underFlood)")
            #expect(seen["ok", default: 0] > 0, "\(seen)")
            #expect(seen.keys.allSatisfy { $0 == "ok" || $0 == "resourceExhausted: etcdserver: too many requests" }, "\(seen)")
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: etcetera.dataDirectory + "/member/kv/snapshots")
            #expect(leftovers.isEmpty, "every snapshot read to the end was deleted: \(leftovers)")
        }
    }

    /// Runs `call` `callsEach` times on each of `tasks` concurrent tasks while put+range probes go on
    /// beside it; returns the probes' latencies during the flood and how the flood's calls ended.
    private static func flood(
        _ client: EtcdClient, metadata: Metadata, tasks: Int, callsEach: Int, _ call: @escaping @Sendable () async throws -> Void
    ) async throws -> (underFlood: Latencies, seen: [String: Int]) {
        let outcomes = Outcomes()
        let flooding = Flooding()
        async let loaded = measure(client, metadata: metadata, operations: 50, while: flooding)
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<tasks {
                group.addTask {
                    for _ in 0..<callsEach {
                        do {
                            try await call()
                            outcomes.record("ok")
                        } catch let error as RPCError {
                            outcomes.record("\(error.code): \(error.message)")
                        } catch {
                            outcomes.record("\(error)")
                        }
                    }
                }
            }
        }
        flooding.stop()
        return (try await loaded, outcomes.seen)
    }

    /// Latencies of a put followed by a range of its key, `operations` times (and, with `while`, on
    /// until the flag drops); every call must succeed.
    private static func measure(
        _ client: EtcdClient, metadata: Metadata, operations: Int, while flooding: Flooding? = nil
    ) async throws -> Latencies {
        var samples: [Duration] = []
        var index = 0
        while index < operations || flooding?.isOn == true {
            let key = Data("probe/\(index % 10)".utf8)
            let started = ContinuousClock.now
            _ = try await client.kv.put(.with { $0.key = key; $0.value = Data("v\(index)".utf8) }, metadata: metadata)
            let range = try await client.kv.range(.with { $0.key = key }, metadata: metadata)
            samples.append(ContinuousClock.now - started)
            #expect(range.kvs.first?.value == Data("v\(index)".utf8))
            index += 1
        }
        return Latencies(samples)
    }
}

/// How the calls of a flood ended, by status.
final class Outcomes: Sendable {
    private let counts = Mutex<[String: Int]>([:])

    func record(_ outcome: String) { counts.withLock { $0[outcome, default: 0] += 1 } }
    var seen: [String: Int] { counts.withLock { $0 } }
}

/// Whether a flood is still running.
final class Flooding: Sendable {
    private let on = Atomic(true)

    var isOn: Bool { on.load(ordering: .relaxed) }
    func stop() { on.store(false, ordering: .relaxed) }
}

/// p50 and p99 of a set of round trips, in milliseconds.
struct Latencies: CustomStringConvertible {
    let count: Int
    let p50: Double
    let p99: Double

    init(_ samples: [Duration]) {
        let sorted = samples.sorted()
        func milliseconds(_ quantile: Double) -> Double {
            guard !sorted.isEmpty else { return 0 }
            let duration = sorted[min(sorted.count - 1, Int(Double(sorted.count) * quantile))]
            return Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
        }
        count = samples.count
        p50 = milliseconds(0.5)
        p99 = milliseconds(0.99)
    }

    var description: String {
        String(format: "%d put+range, p50 %.1f ms, p99 %.1f ms", count, p50, p99)
    }
}
