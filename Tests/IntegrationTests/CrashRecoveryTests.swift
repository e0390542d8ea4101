import EtceteraAPI
import Foundation
import GRPCCore
import Synchronization
import TestSupport
import Testing

/// `kill -9` of the kv service under write load: the launcher restarts it, every acknowledged put is
/// still there, and meanwhile clients get `Unavailable` promptly instead of hanging.
@Suite("Crash recovery")
struct CrashRecoveryTests {
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
                try await Task.sleep(for: .seconds(1))
                let killed = try Command.run("/usr/bin/pkill", ["-9", "-f", "\(etcetera.dataDirectory)/member/kv"])
                #expect(killed.status == 0, "etcetera-kv was found and killed")
                let ackedAtKill = outcomes.acknowledged.withLock { $0.count }
                // Wait until writes succeed again (the launcher restarted the service), then a bit more.
                let deadline = ContinuousClock.now + .seconds(30)
                while outcomes.acknowledged.withLock({ $0.count }) < ackedAtKill + 50, ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(100))
                }
                outcomes.stopped.withLock { $0 = true }
                try await group.waitForAll()
            }
            let acknowledged = outcomes.acknowledged.withLock { $0 }
            #expect(outcomes.otherErrors.withLock { $0 }.isEmpty, "\(outcomes.otherErrors.withLock { $0.prefix(3) })")
            #expect(outcomes.unavailable.withLock { $0 } > 0, "clients saw Unavailable while the kv service was down")
            #expect(outcomes.slowestCall.withLock { $0 } < .seconds(8), "no call hung")
            let stored = try await client.kv.range(Build.get("w", "x"))
            var found: [String: String] = [:]
            for kv in stored.kvs { found[String(decoding: kv.key, as: UTF8.self)] = String(decoding: kv.value, as: UTF8.self) }
            let lost = acknowledged.filter { found[$0.key] != $0.value }
            #expect(lost.isEmpty, "\(lost.count) of \(acknowledged.count) acknowledged puts lost")
            #expect(acknowledged.count > 100)
        }
        #expect(etcetera.log.contains("restarting"), "the launcher reported the restart")
    }
}
