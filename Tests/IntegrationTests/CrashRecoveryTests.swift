import EtceteraAPI
import Foundation
import GRPCCore
import Synchronization
import TestSupport
import Testing

/// `kill -9` of the kv service under write load: the launcher restarts it, every acknowledged put is
/// still there, and meanwhile calls fail with `Unavailable` or wait briefly, but never hang. A frozen kv
/// service (SIGSTOP) makes calls fail with `Unavailable` within the bus's liveness window. `kill -9` of
/// the auth service ends no simple token.
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

    @Test("kill -9 of etcetera-auth: a simple token from before works after the restart, also for a new watcher on a stream opened before")
    func killAuthService() async throws {
        let etcetera = try await ServerProcess.etcetera()
        defer { etcetera.stop() }
        try await withEtcdClient(port: etcetera.port) { client in
            _ = try await client.auth.userAdd(.with { $0.name = "root"; $0.password = "rootpw" })
            _ = try await client.auth.userGrantRole(.with { $0.user = "root"; $0.role = "root" })
            _ = try await client.auth.authEnable(.init())
            var metadata = Metadata()
            metadata.addString(try await client.auth.authenticate(.with { $0.name = "root"; $0.password = "rootpw" }).token, forKey: "token")
            let token = metadata
            let watchers = Mutex<[Int64: (created: Bool, canceled: String?, events: [String])]>([:])
            @Sendable func created(_ id: Int64) async -> Bool {
                await eventually { watchers.withLock { $0[id]?.created == true } }
            }
            let lastError = Mutex<String?>(nil)
            try await client.watch.watch(metadata: token, requestProducer: { writer in
                try await writer.write(.with { $0.createRequest.key = Data("w/".utf8); $0.createRequest.rangeEnd = Data("w0".utf8); $0.createRequest.watchID = 1 })
                #expect(await created(1), "the first watcher is created")
                #expect(try await Command.run("/usr/bin/pkill", ["-9", "-f", "\(etcetera.dataDirectory)/member/auth"]).status == 0)
                // Once the restarted service answers, a change moves the auth revision, which makes the
                // gateway drop what it cached: every later use of the token is resolved by the new process.
                let deadline = ContinuousClock.now + .seconds(120)
                var changed = false
                while !changed, ContinuousClock.now < deadline {
                    do {
                        _ = try await client.auth.roleAdd(.with { $0.name = "after-restart" }, metadata: token)
                        changed = true
                    } catch {
                        lastError.withLock { $0 = "\(error)" }
                        try await Task.sleep(for: .milliseconds(100))
                    }
                }
                #expect(changed, "a change with the token after the restart: \(lastError.withLock { $0 } ?? "")")
                await #expect(throws: Never.self, "a put with the token from before the restart") {
                    _ = try await client.kv.put(Build.put("w/after", "1"), metadata: token)
                }
                try await writer.write(.with { $0.createRequest.key = Data("w/".utf8); $0.createRequest.rangeEnd = Data("w0".utf8); $0.createRequest.watchID = 2 })
                #expect(await created(2), "the second watcher is created on the stream opened before the restart")
                _ = try await client.kv.put(Build.put("w/both", "1"), metadata: token)
                _ = await eventually { watchers.withLock { $0[1]?.events.count == 2 && $0[2]?.events.count == 1 } }
            }, onResponse: { response in
                for try await message in response.messages {
                    watchers.withLock { state in
                        var watcher = state[message.watchID] ?? (false, nil, [])
                        if message.created { watcher.created = true }
                        if message.canceled { watcher.canceled = message.cancelReason }
                        watcher.events += message.events.map { String(decoding: $0.kv.key, as: UTF8.self) }
                        state[message.watchID] = watcher
                    }
                    if watchers.withLock({ $0[1]?.events.count == 2 && $0[2]?.events.count == 1 }) { break }
                }
            })
            let seen = watchers.withLock { $0 }
            #expect(seen[1]?.events == ["w/after", "w/both"] && seen[1]?.canceled == nil, "\(seen)")
            #expect(seen[2]?.events == ["w/both"] && seen[2]?.canceled == nil, "\(seen)")
        }
        #expect(etcetera.log.contains("restarting"), "the launcher reported the restart")
    }
}
