import Foundation
import TestSupport
import Testing

/// Sends the same KV request sequence to a fresh real etcd 3.4 and a fresh Etcetera and requires
/// identical answers, apart from cluster and member ids and the raft term.
@Suite("KV API against real etcd", .serialized, .timeLimit(.minutes(10)))
struct DifferentialKVTests {
    @Test("scripted requests covering every KV option and error")
    func scripted() async throws {
        try await compare(KVScenarios.scripted)
    }

    @Test("seeded random requests", arguments: [UInt64(7), 2026])
    func random(seed: UInt64) async throws {
        try await compare(KVScenarios.random(seed: seed, count: 150))
    }

    private func compare(_ calls: [KVCall]) async throws {
        let etcd = try await ServerProcess.etcd()
        defer { etcd.stop() }
        let etcetera = try await ServerProcess.etcetera()
        defer { etcetera.stop() }
        let expected = try await withEtcdClient(port: etcd.port) { client in
            var answers: [String] = []
            for call in calls { answers.append(await call.send(to: client)) }
            return answers
        }
        let actual = try await withEtcdClient(port: etcetera.port) { client in
            var answers: [String] = []
            for call in calls { answers.append(await call.send(to: client)) }
            return answers
        }
        var mismatches = 0
        for (index, call) in calls.enumerated() where expected[index] != actual[index] {
            mismatches += 1
            Issue.record("""
                call \(index): \(call)
                etcd:     \(expected[index])
                etcetera: \(actual[index])
                """)
            if mismatches >= 5 { break }
        }
        #expect(mismatches == 0, "\(calls.count) calls compared")
    }
}
