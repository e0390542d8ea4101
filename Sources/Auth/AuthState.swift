/// What an auth backend answers from, whoever keeps the users and roles: the reads of etcd's Auth API,
/// Authenticate's token issue and token resolution. `AuthStore` (etcetera-auth's own, persisted and
/// changed over the bus, in the `AuthStorage` library) is one; a backend whose state comes from elsewhere (a file) is another, and the bus server
/// (`AuthService.AuthServer`) serves both the same way, so every backend answers reads alike.
///
/// Driven from one thread, like `AuthStore`; time is passed in.
public protocol AuthState: AnyObject {
    /// The auth revision (docs/auth-plugins.md): at least 1, never lower, higher after every change.
    var revision: UInt64 { get }
    /// Whether auth is enabled.
    var isEnabled: Bool { get }
    /// Every user name, in byte order.
    var userNames: [String] { get }
    /// Every role name, in byte order.
    var roleNames: [String] { get }
    /// Every user's merged permissions at ``revision``.
    var permissionTable: PermissionTable { get }
    /// How a gateway checks this backend's tokens itself (JWTs signed with a public-key method); nil
    /// when tokens can only be resolved by asking the backend.
    var tokenVerification: TokenVerification? { get }

    /// The user, or ``AuthError/userNotFound``.
    func user(named name: String) throws(AuthError) -> User
    /// The role with its permissions sorted by key, or ``AuthError/roleNotFound``.
    func role(named name: String) throws(AuthError) -> Role

    /// Issues a token for a user whose password was checked at `checkedRevision`: ``AuthError/oldRevision``
    /// if the state changed since, ``AuthError/authFailed`` if the user is gone.
    func issueToken(name: String, checkedRevision: UInt64, now: ContinuousClock.Instant) throws(AuthError) -> String
    /// Who a token stands for (nil for no token); ``AuthError/invalidToken`` for an unknown, expired or
    /// ended one. Counts as a use of the token.
    func authInfo(token: String?, now: ContinuousClock.Instant) throws(AuthError) -> AuthInfo?

    /// Called about once a second: forget expired tokens, and take in changes made outside the bus (a
    /// backend that reads a file reloads it here).
    func refresh(now: ContinuousClock.Instant)
}
