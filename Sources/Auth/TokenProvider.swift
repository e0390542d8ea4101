import Crypto

/// Issues and resolves the tokens clients send after Authenticate (etcd's `TokenProvider`). The auth store
/// owns one and tells it when auth is switched on or off and when a user's tokens must stop working.
/// Implementations are driven from one thread, like the store. Time is passed in, so tests control it.
public protocol TokenProvider: AnyObject {
    /// A new token for `user`, who authenticated at auth revision `revision`.
    func assign(user: String, revision: UInt64, now: ContinuousClock.Instant) throws(AuthError) -> String

    /// Who `token` stands for, or nil if it is unknown, expired or invalidated. `currentRevision` is the
    /// store's revision, for tokens that do not carry their own (simple tokens). A provider may treat the
    /// lookup as a use of the token (simple tokens renew their TTL).
    func info(token: String, currentRevision: UInt64, now: ContinuousClock.Instant) -> AuthInfo?

    /// Auth was switched on (also called when a store opens with auth enabled).
    func enable()

    /// Auth was switched off: no token issued so far may work again.
    func disable()

    /// The user was deleted or its password changed: its tokens stop working.
    func invalidate(user: String)

    /// Forgets tokens that expired by `now`, so memory follows the live ones, and returns the
    /// ``keptDigest(of:)`` of each (empty for tokens nobody keeps). Lookups never return an expired
    /// token whether or not this ran.
    @discardableResult
    func removeExpired(now: ContinuousClock.Instant) -> [KeptTokenDigest]

    /// For a token only this provider can resolve (a simple token): the digest under which a store that
    /// persists its state keeps it, so that the token outlives a restart of the backend. nil for tokens
    /// that carry what they stand for (JWTs), which need no keeping.
    func keptDigest(of token: String) -> KeptTokenDigest?

    /// Takes back a token kept under `digest` after a restart, for `user`, valid for a whole TTL from
    /// `now` (the time of its last use before the restart is not kept).
    func restore(digest: KeptTokenDigest, user: String, now: ContinuousClock.Instant)

    /// Forgets a token just issued, which could not be kept: its Authenticate fails.
    func forget(token: String)

    /// How others can verify these tokens on their own (self-describing tokens signed with a public key);
    /// nil when only the provider can tell (simple tokens).
    var verification: TokenVerification? { get }
}

extension TokenProvider {
    @discardableResult
    public func removeExpired(now: ContinuousClock.Instant) -> [KeptTokenDigest] { [] }

    public func keptDigest(of token: String) -> KeptTokenDigest? { nil }

    public func restore(digest: KeptTokenDigest, user: String, now: ContinuousClock.Instant) {}

    public func forget(token: String) {}

    public var verification: TokenVerification? { nil }
}

/// What a store keeps of a token: the SHA-256 of its bytes, so that reading the store's files does not
/// give anyone a token to use.
public struct KeptTokenDigest: Hashable, Sendable {
    public let bytes: [UInt8]

    /// The digest of `token`.
    public init(of token: String) {
        bytes = Array(SHA256.hash(data: Array(token.utf8)))
    }

    /// A digest read back from a store; nil unless it is 32 bytes long.
    public init?(bytes: [UInt8]) {
        guard bytes.count == SHA256.byteCount else { return nil }
        self.bytes = bytes
    }
}

extension TokenProvider {
    /// Authenticate's last step, by the rules every auth state follows: auth must be on
    /// (``AuthError/notEnabled``), the state unchanged since the password was checked at `checkedRevision`
    /// (``AuthError/oldRevision``) and the user still there (``AuthError/authFailed``).
    public func issueToken(
        for name: String, checkedRevision: UInt64, state: (isEnabled: Bool, revision: UInt64, hasUser: Bool), now: ContinuousClock.Instant
    ) throws(AuthError) -> String {
        guard state.isEnabled else { throw .notEnabled }
        guard checkedRevision == state.revision else { throw .oldRevision }
        guard state.hasUser else { throw .authFailed }
        return try assign(user: name, revision: state.revision, now: now)
    }

    /// Who a request's token stands for: nil for no token; ``AuthError/invalidToken`` for one this provider
    /// does not know (any more), whether auth is on or off, as in etcd.
    public func authInfo(token: String?, currentRevision: UInt64, now: ContinuousClock.Instant) throws(AuthError) -> AuthInfo? {
        guard let token else { return nil }
        guard let info = info(token: token, currentRevision: currentRevision, now: now) else { throw .invalidToken }
        return info
    }
}
