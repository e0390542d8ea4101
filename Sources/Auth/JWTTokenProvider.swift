import Foundation

/// etcd's `--auth-token jwt`: tokens are signed claims (user, auth revision, expiry), so nothing is kept
/// and anyone with the public key can verify them. As in etcd they outlive what ends simple tokens
/// (auth disable, a deleted user, a new password): those changes raise the auth revision, and the
/// permission checks refuse a token older than the store (`auth.old_revision`), which makes clients
/// authenticate again. Expiry is wall-clock time (`exp`), so `now` arguments are unused.
public final class JWTTokenProvider: TokenProvider, CustomStringConvertible {
    private let codec: JWTTokenCodec
    private let ttl: Duration
    private let wallClock: @Sendable () -> Date

    /// - Parameters:
    ///   - codec: the key (``JWTKeys/codec()``); without a private key the provider only verifies (etcd's
    ///     verify-only mode) and Authenticate fails with ``AuthError/verifyOnly``.
    ///   - ttl: the `ttl` option; a token's `exp` is issue time plus this, in whole seconds.
    ///   - wallClock: the time `exp` is counted in (tests move it).
    public init(codec: JWTTokenCodec, ttl: Duration, wallClock: @escaping @Sendable () -> Date = Date.init) {
        self.codec = codec
        self.ttl = ttl
        self.wallClock = wallClock
    }

    public func assign(user: String, revision: UInt64, now: ContinuousClock.Instant) throws(AuthError) -> String {
        guard codec.canSign else { throw .verifyOnly }
        // etcd: time.Now().Add(ttl).Unix(), the expiry instant rounded down to the second.
        let ttlSeconds = Double(ttl.components.seconds) + Double(ttl.components.attoseconds) / 1e18
        let exp = Int64((wallClock().timeIntervalSince1970 + ttlSeconds).rounded(.down))
        let claims = JWTTokenCodec.Claims(username: user, revision: revision, exp: exp)
        do {
            return try codec.sign(claims)
        } catch {
            throw .tokenSigningFailed("\(type(of: error))")
        }
    }

    public func info(token: String, currentRevision: UInt64, now: ContinuousClock.Instant) -> AuthInfo? {
        codec.verify(token, now: wallClock())?.authInfo
    }

    public var verification: TokenVerification? { codec.verification }

    public func enable() {}
    public func disable() {}
    public func invalidate(user: String) {}

    public var description: String {
        "JWTTokenProvider(\(codec.signMethod.rawValue), \(codec.canSign ? "signs" : "verify-only"), ttl \(ttl))"
    }
}
