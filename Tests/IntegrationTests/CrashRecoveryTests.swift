import EtceteraAPI
import Foundation
import GRPCCore
import Synchronization
import TestSupport
import Testing

/// `kill -9` of the kv service under write load: the launcher restarts it, every acknowledged put is
/// still there, and meanwhile calls fail with `Unavailable` or wait briefly, but never hang. A frozen kv
/// service (SIGSTOP) makes calls fail with `Unavailable` within the bus's liveness window.
@Suite("Crash recovery", .timeLimit(.minutes(10)))
struct CrashRecoveryTests {
    /// A call that takes longer than this counts as hung. The gateway gives up on the kv after 5 s; the
    /// rest is room for a machine busy with other work, which can delay this test process's threads by
    /// many seconds. A real hang has no end, so the bound only needs to be finite.
    static let hangBound: Duration = .seconds(60)

    final class Outcomes: Sendable {
        let acknowledged = Mutex<[String: String]>([:])
        let unavailable = Mutex(0)
        let otherErrors = Mutex<[String]>([])
        let slowestCall = Mutex(Duration.zero)
        let stopped = Mutex(false)
    }

    @Test("kill -9 of etcetera-kv during a put load loses no acknowledged write")
    func killKVService() async throws {
        let etcetera = try await ServerProcess.etcetera()
        defer { etcetera.stop() }
        let outcomes = Outcomes()
        try await withEtcdClient(port: etcetera.port) { client in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<8 {
                    group.addTask {
                        var sequence = 0
                        while !outcomes.stopped.withLock({ $0 }) {
                            let key = "w\(worker)-\(sequence)"
                            let value = "v\(sequence)"
                            sequence += 1
                            let started = ContinuousClock.now
                            do {
                                _ = try await client.kv.put(Build.put(key, value))
                                outcomes.acknowledged.withLock { $0[key] = value }
                            } catch let error as RPCError where error.code == .unavailable {
                                outcomes.unavailable.withLock { $0 += 1 }
                                try await Task.sleep(for: .milliseconds(20))
                            } catch {
                                outcomes.otherErrors.withLock { $0.append("\(error)") }
                            }
                            let elapsed = ContinuousClock.now - started
                            outcomes.slowestCall.withLock { $0 = max($0, elapsed) }
                        }
                    }
                }
                let loadDeadline = ContinuousClock.now + .seconds(120)
                while outcomes.acknowledged.withLock({ $0.count }) < 50, ContinuousClock.now < loadDeadline {
                    try await Task.sleep(for: .milliseconds(50))
                }
                let killed = try await Command.run("/usr/bin/pkill", ["-9", "-f", "\(etcetera.dataDirectory)/member/kv"])
                #expect(killed.status == 0, "etcetera-kv was found and killed")
                let ackedAtKill = outcomes.acknowledged.withLock { $0.count }
                #expect(ackedAtKill > 0, "puts were acknowledged before the kill")
                // Wait until writes succeed again (the launcher restarted the service), then a bit more.
                let deadline = ContinuousClock.now + .seconds(120)
                while outcomes.acknowledged.withLock({ $0.count }) < ackedAtKill + 50, ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(100))
                }
                outcomes.stopped.withLock { $0 = true }
                try await group.waitForAll()
                #expect(outcomes.acknowledged.withLock { $0.count } >= ackedAtKill + 50, "puts succeed again after the restart")
            }
            let acknowledged = outcomes.acknowledged.withLock { $0 }
            #expect(outcomes.otherErrors.withLock { $0 }.isEmpty, "\(outcomes.otherErrors.withLock { $0.prefix(3) })")
            #expect(outcomes.slowestCall.withLock { $0 } < Self.hangBound, "no call hung")
            let stored = try await client.kv.range(Build.get("w", "x"))
            var found: [String: String] = [:]
            for kv in stored.kvs { found[String(decoding: kv.key, as: UTF8.self)] = String(decoding: kv.value, as: UTF8.self) }
            let lost = acknowledged.filter { found[$0.key] != $0.value }
            #expect(lost.isEmpty, "\(lost.count) of \(acknowledged.count) acknowledged puts lost")
        }
        #expect(etcetera.log.contains("restarting"), "the launcher reported the restart")
    }

    @Test("a kv service that stops answering makes calls fail with Unavailable, and they work once it is back")
    func frozenKVService() async throws {
        let etcetera = try await ServerProcess.etcetera()
        defer { etcetera.stop() }
        try await withEtcdClient(port: etcetera.port) { client in
            _ = try await client.kv.put(Build.put("before", "1"))
            let pattern = "\(etcetera.dataDirectory)/member/kv"
            #expect(try await Command.run("/usr/bin/pkill", ["-STOP", "-f", pattern]).status == 0)
            let started = ContinuousClock.now
            do {
                _ = try await client.kv.put(Build.put("during", "1"))
                Issue.record("a put succeeded while the kv service was stopped")
            } catch let error as RPCError {
                #expect(error.code == .unavailable)
            }
            #expect(ContinuousClock.now - started < Self.hangBound, "the call failed instead of hanging")
            #expect(try await Command.run("/usr/bin/pkill", ["-CONT", "-f", pattern]).status == 0)
            let deadline = ContinuousClock.now + .seconds(120)
            var recovered = false
            while !recovered, ContinuousClock.now < deadline {
                recovered = (try? await client.kv.put(Build.put("after", "1"))) != nil
                if !recovered { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(recovered, "puts work again once the kv service continues")
        }
    }
}
