/// etcd's `--auth-token simple`: an opaque random token, valid for `ttl` after it was issued or last used.
/// Tokens look like etcd's, sixteen random letters, a dot and a number (etcd's is the raft index of the
/// Authenticate request; here a sequence number). Neither a token nor the count of them per user ever
/// appears in a description.
///
/// The provider holds tokens by their digest (``KeptTokenDigest``), never the tokens themselves, so that a
/// store can keep them and hand them back after a restart (``restore(digest:user:now:)``): an auth service
/// that crashes and comes back still knows every live token, as etcd still knows its tokens while its
/// clients stay connected.
public final class SimpleTokenProvider: TokenProvider, CustomStringConvertible, CustomReflectable {
    public struct Configuration: Sendable {
        /// etcd's `--auth-token-ttl` (default 300 s); every use starts it again.
        public var ttl: Duration = .seconds(300)
        /// Random letters before the dot (etcd: 16, about 91 bits from the system's secure generator).
        public var randomLetters = 16

        public init() {}
    }

    private struct Entry {
        let user: String
        var expiry: ContinuousClock.Instant
    }

    private static let letters = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)

    public let configuration: Configuration
    private var tokens: [KeptTokenDigest: Entry] = [:]
    private var enabled = false
    private var sequence: UInt64 = 0

    public init(configuration: Configuration = .init()) {
        self.configuration = configuration
    }

    public func assign(user: String, revision: UInt64, now: ContinuousClock.Instant) throws(AuthError) -> String {
        // etcd drops tokens of a disabled store; it never issues one then (Authenticate fails first).
        guard enabled else { throw .notEnabled }
        var token: String
        var digest: KeptTokenDigest
        repeat {
            sequence += 1
            var generator = SystemRandomNumberGenerator()
            let prefix = (0..<configuration.randomLetters).map { _ in Self.letters.randomElement(using: &generator)! }
            token = String(decoding: prefix, as: UTF8.self) + "." + String(sequence)
            digest = KeptTokenDigest(of: token)
        } while tokens[digest] != nil
        tokens[digest] = Entry(user: user, expiry: now + configuration.ttl)
        return token
    }

    public func info(token: String, currentRevision: UInt64, now: ContinuousClock.Instant) -> AuthInfo? {
        let digest = KeptTokenDigest(of: token)
        // etcd's keeper deletes a token once the time is after its expiry; here removeExpired does, so
        // that a store keeping the token learns of it.
        guard let entry = tokens[digest], now <= entry.expiry else { return nil }
        tokens[digest]?.expiry = now + configuration.ttl
        return AuthInfo(user: entry.user, revision: currentRevision)
    }

    public func keptDigest(of token: String) -> KeptTokenDigest? {
        KeptTokenDigest(of: token)
    }

    public func restore(digest: KeptTokenDigest, user: String, now: ContinuousClock.Instant) {
        tokens[digest] = Entry(user: user, expiry: now + configuration.ttl)
    }

    public func forget(token: String) {
        tokens[KeptTokenDigest(of: token)] = nil
    }

    public func enable() {
        enabled = true
    }

    public func disable() {
        enabled = false
        tokens = [:]
    }

    public func invalidate(user: String) {
        tokens = tokens.filter { $0.value.user != user }
    }

    @discardableResult
    public func removeExpired(now: ContinuousClock.Instant) -> [KeptTokenDigest] {
        let expired = tokens.filter { now > $0.value.expiry }.keys
        for digest in expired { tokens[digest] = nil }
        return Array(expired)
    }

    /// Tokens currently held, expired ones not yet removed included.
    public var count: Int { tokens.count }

    public var description: String {
        "SimpleTokenProvider(\(enabled ? "enabled" : "disabled"), \(tokens.count) tokens, ttl \(configuration.ttl))"
    }

    public var customMirror: Mirror {
        Mirror(self, children: ["enabled": enabled, "tokens": tokens.count, "ttl": configuration.ttl])
    }
}
