import EtceteraAPI
import Foundation
import Synchronization
import Testing

@Suite("The auth service's events, concurrency and secrecy", .serialized)
struct AuthServiceBehaviourTests {
    @Test("a change publishes the new revision at once; a refusal publishes nothing")
    func revisionEvents() async throws {
        // A heartbeat far away: every event seen here comes from a change.
        let auth = try RunningAuthServer(heartbeatInterval: .seconds(60))
        // ZeroMQ drops what is published before the subscription is connected: change until one arrives.
        var connected = false
        for attempt in 0..<100 where !connected {
            try await auth.succeed { $0.roleAdd.name = "warm-up-\(attempt)" }
            connected = await auth.event(timeout: .milliseconds(100)) != nil
        }
        try #require(connected)

        var seen = auth.events.count
        let added = try await auth.succeed { $0.roleAdd.name = "r" }
        let event = try #require(await auth.event(skipping: seen, timeout: .milliseconds(500)))
        #expect(event.revision == added.authRevision && !event.enabled && event.instance != 0)

        seen = auth.events.count
        #expect(try await auth.errorCode { $0.roleAdd.name = "r" } == "auth.role_already_exists")
        _ = try await auth.succeed { $0.permissions = .init() }
        try await Task.sleep(for: .milliseconds(200))
        #expect(auth.events.count == seen, "nothing changed, nothing published")

        try await auth.enableWithRoot()
        let enabled = try #require(await auth.event(skipping: seen, timeout: .seconds(2)) { $0.enabled })
        #expect(enabled.revision == (try await auth.permissions().revision))
        #expect(Set(auth.events.map(\.instance)).count == 1)
        await auth.stop()
    }

    @Test("the current revision is published as a heartbeat when nothing changes")
    func heartbeat() async throws {
        let auth = try RunningAuthServer(heartbeatInterval: .milliseconds(50))
        let third = await auth.event(skipping: 2, timeout: .seconds(5))
        #expect(third?.revision == 1)
        #expect(auth.events.allSatisfy { $0.revision == 1 && !$0.enabled })
        await auth.stop()
    }

    @Test("bcrypt runs off the store's queue: token resolutions and snapshots answer during a slow authenticate and user add")
    func slowHashesDoNotBlock() async throws {
        // Cost 12: about 0.35 s per hash here, against well under a millisecond for a resolution.
        let auth = try RunningAuthServer(bcryptCost: 12)
        try await auth.enableWithRoot()
        let token = try await auth.token("root", "rootpw")

        let finished = Locked<[String: ContinuousClock.Instant]>([:])
        let slowAuthenticate = Task {
            let reply = try await auth.authenticate("root", "rootpw")
            finished.withLock { $0["authenticate"] = .now }
            return reply
        }
        let slowUserAdd = Task {
            let reply = try await auth.request { $0.userAdd = .with { $0.name = "bob"; $0.password = "pw-b" } }
            finished.withLock { $0["userAdd"] = .now }
            return reply
        }
        try await Task.sleep(for: .milliseconds(30))
        for _ in 0..<5 {
            #expect(try await auth.resolve(token).reply == .resolveToken(.with { $0.user = "root"; $0.authRevision = 4 }))
            #expect(try await auth.permissions().revision == 4)
        }
        let fastDone = ContinuousClock.now
        let authenticated = try await slowAuthenticate.value
        let added = try await slowUserAdd.value

        guard case .authenticate = authenticated.reply, case .userAdd = added.reply else {
            Issue.record("\(authenticated) \(added)")
            return await auth.stop()
        }
        let slowDone = finished.value
        // Order, not a time bound: the quick requests all finished before either hash did.
        #expect(slowDone.values.allSatisfy { fastDone < $0 }, "the quick requests waited for bcrypt")
        #expect(try await auth.permissions().users.map(\.name) == ["bob", "root"])
        await auth.stop()
    }

    @Test("no password, token or hash in the service's log at any level, nor in error details")
    func secretsStayOutOfLogs() async throws {
        let logs = CapturedLogs()
        let auth = try RunningAuthServer(tokenTTL: .seconds(1), logs: logs)
        let passwords = ["first-Secret-pw", "second-Secret-pw", "wrong-Secret-pw", "root-Secret-pw"]
        var details: [String] = []
        try await auth.succeed { $0.userAdd = .with { $0.name = "alice"; $0.password = passwords[0] } }
        try await auth.succeed { $0.userChangePassword = .with { $0.name = "alice"; $0.password = passwords[1] } }
        try await auth.enableWithRoot(password: passwords[3])
        let token = try await auth.token("alice", passwords[1])
        let rootToken = try await auth.token("root", passwords[3])
        #expect(try await auth.resolve(token).error.code == "")
        details.append(try await auth.resolve(token + "x").error.detail)
        details.append(try await auth.authenticate("alice", passwords[2]).error.detail)
        details.append(try await auth.request { $0.userAdd = .with { $0.name = "alice"; $0.password = passwords[2] } }.error.detail)
        details.append(try await auth.request { $0.userAdd = .with { $0.name = "nul"; $0.password = passwords[2] + "\0" } }.error.detail)
        try await auth.succeed { $0.userDelete.name = "alice" }
        // Let the expiry sweep run over root's token.
        try await Task.sleep(for: .milliseconds(2500))
        #expect(try await auth.resolve(rootToken).error.code == "auth.invalid_token")
        await auth.stop()

        let lines = logs.all
        #expect(lines.contains { $0.contains("added a user") && $0.contains("alice") }, "the capture sees the service's log")
        #expect(lines.contains { $0.hasPrefix("debug") && $0.contains("authenticated a user") }, "debug records are captured too")
        for secret in passwords + [token, rootToken, String(token.prefix(16)), String(rootToken.prefix(16))] {
            #expect(!lines.contains { $0.contains(secret) }, "the log shows a secret")
            #expect(!details.contains { $0.contains(secret) }, "an error detail shows a secret")
        }
        #expect(!lines.contains { $0.contains("$2b$") || $0.contains("$2a$") }, "the log shows a hash")
    }
}
