import Auth
import AuthStorage
import Storage
import Testing

@Suite("Simple tokens")
struct SimpleTokenTests {
    private let start = ContinuousClock.now

    private func provider(ttl: Duration = .seconds(300)) -> SimpleTokenProvider {
        var configuration = SimpleTokenProvider.Configuration()
        configuration.ttl = ttl
        let provider = SimpleTokenProvider(configuration: configuration)
        provider.enable()
        return provider
    }

    @Test("etcd's shape: sixteen letters, a dot, a number; every token different")
    func shape() throws {
        let tokens = provider()
        var seen: Set<String> = []
        for _ in 0..<100 {
            let token = try tokens.assign(user: "u", revision: 1, now: start)
            let parts = token.split(separator: ".", omittingEmptySubsequences: false)
            #expect(parts.count == 2)
            #expect(parts[0].count == 16 && parts[0].allSatisfy { $0.isASCII && $0.isLetter })
            #expect(UInt64(parts[1]) != nil)
            seen.insert(token)
        }
        #expect(seen.count == 100)
    }

    @Test("a token expires after the TTL without use; every use starts the TTL again (etcd's --auth-token-ttl)")
    func expiryAndRefresh() throws {
        let tokens = provider(ttl: .seconds(3))
        let idle = try tokens.assign(user: "idle", revision: 7, now: start)
        let used = try tokens.assign(user: "used", revision: 7, now: start)
        #expect(tokens.info(token: idle, currentRevision: 9, now: start + .seconds(3)) == AuthInfo(user: "idle", revision: 9))
        #expect(tokens.info(token: idle, currentRevision: 9, now: start + .seconds(6) + .milliseconds(1)) == nil)
        // As in the transcript: used every 2 s with a TTL of 3 s, it lives on; 5 s idle, it is gone.
        for second in stride(from: 2, through: 8, by: 2) {
            #expect(tokens.info(token: used, currentRevision: 9, now: start + .seconds(second))?.user == "used")
        }
        #expect(tokens.info(token: used, currentRevision: 9, now: start + .seconds(13)) == nil)
        #expect(tokens.info(token: "made.up", currentRevision: 9, now: start) == nil)
    }

    @Test("expired tokens are dropped from memory by removeExpired")
    func removeExpired() throws {
        let tokens = provider(ttl: .seconds(10))
        _ = try tokens.assign(user: "a", revision: 1, now: start)
        let kept = try tokens.assign(user: "b", revision: 1, now: start + .seconds(5))
        tokens.removeExpired(now: start + .seconds(11))
        #expect(tokens.count == 1)
        #expect(tokens.info(token: kept, currentRevision: 1, now: start + .seconds(11)) != nil)
    }

    @Test("invalidating a user ends its tokens only; disabling ends all and issues none")
    func invalidation() throws {
        let tokens = provider()
        let a1 = try tokens.assign(user: "a", revision: 1, now: start)
        let a2 = try tokens.assign(user: "a", revision: 1, now: start)
        let b = try tokens.assign(user: "b", revision: 1, now: start)
        tokens.invalidate(user: "a")
        #expect(tokens.info(token: a1, currentRevision: 1, now: start) == nil)
        #expect(tokens.info(token: a2, currentRevision: 1, now: start) == nil)
        #expect(tokens.info(token: b, currentRevision: 1, now: start) != nil)
        tokens.disable()
        #expect(tokens.info(token: b, currentRevision: 1, now: start) == nil)
        #expect(throws: AuthError.notEnabled) { try tokens.assign(user: "b", revision: 1, now: start) }
    }

    @Test("through the store: deleting the user, changing its password or disabling auth ends its tokens")
    func storeInvalidates() throws {
        let store = try makeEnabledStore()
        try store.addUser(name: "u", password: "upw")
        try store.addUser(name: "w", password: "wpw")
        try store.addUser(name: "other", password: "opw")
        let u = try store.authenticate(name: "u", password: "upw", now: start)
        let w = try store.authenticate(name: "w", password: "wpw", now: start)
        let other = try store.authenticate(name: "other", password: "opw", now: start)
        try store.changePassword(name: "u", password: "upw2")
        #expect(throws: AuthError.invalidToken) { try store.authInfo(token: u, now: start) }
        #expect(throws: AuthError.authFailed) { try store.authenticate(name: "u", password: "upw", now: start) }
        _ = try store.authenticate(name: "u", password: "upw2", now: start)
        try store.deleteUser(name: "w")
        #expect(throws: AuthError.invalidToken) { try store.authInfo(token: w, now: start) }
        #expect(throws: AuthError.authFailed) { try store.authenticate(name: "w", password: "wpw", now: start) }
        #expect(try store.authInfo(token: other, now: start)?.user == "other")
        try store.disable()
        #expect(throws: AuthError.invalidToken) { try store.authInfo(token: other, now: start) }
        #expect(try store.authInfo(token: nil, now: start) == nil)
    }

    @Test("a token carries the store's current revision, so it keeps working across unrelated changes")
    func revisionFollowsStore() throws {
        let store = try makeEnabledStore()
        let token = try store.authenticate(name: "root", password: "rootpw", now: start)
        try store.addRole(name: "r")
        let info = try store.authInfo(token: token, now: start)
        #expect(info?.revision == store.revision)
        try store.check(writing(bytes("k")), info)
    }

    @Test("a store reopened on the same storage (an auth service restarted) still knows every live token, with a new TTL")
    func tokensOutliveRestart() throws {
        let storage = InMemoryStorage()
        let before = try makeEnabledStore(storage, tokens: provider(ttl: .seconds(10)))
        try before.addUser(name: "u", password: "upw")
        let root = try before.authenticate(name: "root", password: "rootpw", now: start)
        let u = try before.authenticate(name: "u", password: "upw", now: start)
        let restarted = try AuthStore(storage: storage, tokenProvider: provider(ttl: .seconds(10)), now: start + .seconds(8))
        #expect(try restarted.authInfo(token: root, now: start + .seconds(17))?.user == "root", "a whole TTL from the restart")
        #expect(try restarted.authInfo(token: u, now: start + .seconds(17))?.user == "u")
        #expect(throws: AuthError.invalidToken) { try restarted.authInfo(token: "made.up", now: start + .seconds(8)) }
        #expect(throws: AuthError.invalidToken) { try restarted.authInfo(token: u, now: start + .seconds(28)) }
    }

    @Test("the store keeps a token's digest, never the token")
    func keptAsDigest() throws {
        let storage = InMemoryStorage()
        let store = try makeEnabledStore(storage)
        let token = try store.authenticate(name: "root", password: "rootpw", now: start)
        let cursor = storage.snapshot().makeCursor()
        var everything: [UInt8] = []
        cursor.seekToFirst()
        while cursor.isValid {
            everything += cursor.key + cursor.value
            cursor.next()
        }
        #expect(!everything.isEmpty)
        #expect(everything.firstRange(of: Array(token.utf8)) == nil)
        #expect(everything.firstRange(of: Array(token.split(separator: ".")[0].utf8)) == nil)
        #expect(everything.firstRange(of: KeptTokenDigest(of: token).bytes) != nil)
    }

    @Test("tokens ended before a restart stay ended after it: deleted user, new password, auth disabled, expiry")
    func endedTokensStayEnded() throws {
        let storage = InMemoryStorage()
        let store = try makeEnabledStore(storage, tokens: provider(ttl: .seconds(10)))
        for name in ["u", "w", "idle"] { try store.addUser(name: name, password: "\(name)pw") }
        let u = try store.authenticate(name: "u", password: "upw", now: start)
        let w = try store.authenticate(name: "w", password: "wpw", now: start)
        let idle = try store.authenticate(name: "idle", password: "idlepw", now: start)
        let root = try store.authenticate(name: "root", password: "rootpw", now: start + .seconds(5))
        try store.changePassword(name: "u", password: "upw2")
        try store.deleteUser(name: "w")
        store.removeExpiredTokens(now: start + .seconds(11))
        var restarted = try AuthStore(storage: storage, tokenProvider: provider(ttl: .seconds(10)), now: start + .seconds(12))
        for token in [u, w, idle] {
            #expect(throws: AuthError.invalidToken) { try restarted.authInfo(token: token, now: start + .seconds(12)) }
        }
        #expect(try restarted.authInfo(token: root, now: start + .seconds(12))?.user == "root")
        try restarted.disable()
        try restarted.enable()
        restarted = try AuthStore(storage: storage, tokenProvider: provider(ttl: .seconds(10)), now: start + .seconds(13))
        #expect(throws: AuthError.invalidToken) { try restarted.authInfo(token: root, now: start + .seconds(13)) }
    }

    @Test("a token whose record cannot be written is not handed out and does not work")
    func unkeptTokenFails() throws {
        let storage = FailingStorage()
        let tokens = provider()
        let store = try makeEnabledStore(storage, tokens: tokens)
        storage.failing.store(true, ordering: .relaxed)
        #expect(throws: AuthError.self) { try store.authenticate(name: "root", password: "rootpw", now: start) }
        #expect(tokens.count == 0)
    }
}
