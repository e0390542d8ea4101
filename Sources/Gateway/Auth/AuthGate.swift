import Auth
import Bus
import EtceteraAPI
import Foundation
import GRPCWire
import Logging
import Synchronization

/// The gateway's side of auth: who a call's token stands for, and whether that user may make the call,
/// decided here from the auth backend's permission snapshot (docs/auth-plugins.md) so that the common
/// path costs no bus round trip. The snapshot is fetched again whenever the backend's revision moves:
/// the gateway learns it from the replies to the Auth calls it forwards (so its own changes apply to the
/// very next request) and from the backend's events (changes made through another gateway). While auth
/// is off, calls pass after one lock-protected read. A known token is decided on the calling thread after
/// one lock-protected read and a table lookup; signed tokens (JWT) are verified here with the key the
/// backend publishes, so they never cost a round trip.
final class AuthGate: Sendable {
    /// What a call needs from its caller when auth is on.
    enum Requirement: Sendable {
        /// A valid token.
        case authenticated
        /// Nothing from a call without a token, but a token that comes must be valid: etcd's calls that
        /// go through raft with no check of their own (LeaseGrant, Compact, Alarm, LeaseRevoke of a lease
        /// without keys) fail only on a token it cannot resolve.
        case validTokenIfAny
        /// Each range needs the permission given with it.
        case keys([(key: [UInt8], rangeEnd: [UInt8], PermissionType)])
        /// The root role; `denied` is the error code for others (Maintenance answers its own).
        case admin(denied: String = "auth.permission_denied")
        /// The root role, or being the user named (UserGet).
        case adminOrUser(String)
        /// The root role, or holding the role named (RoleGet).
        case adminOrRole(String)
        /// What the call needs could not be found out (the kv store did not say which keys a lease
        /// holds); the call fails with this status.
        case undetermined(GRPCStatus)
    }

    /// A call's requirement as a handler first sees it: known from the request alone (the common case,
    /// decided on the calling thread), or known only after a lookup (the keys attached to a lease).
    enum PendingRequirement: Sendable {
        case known(Requirement)
        case lookup(@Sendable () async -> Requirement)

        var resolved: Requirement {
            get async {
                switch self {
                case .known(let requirement): requirement
                case .lookup(let lookup): await lookup()
                }
            }
        }
    }

    private struct Snapshot {
        let enabled: Bool
        let table: PermissionTable
        let roles: [String: Set<String>]
        /// Verifies the backend's tokens locally; nil when only the backend can (simple tokens).
        let codec: JWTTokenCodec?
    }

    /// Who a token stands for, as last learnt.
    private struct Identity {
        let user: String
        /// The auth revision the token stands for: a JWT's own claim, or (simple tokens) the backend's
        /// revision when it resolved the token.
        let revision: UInt64
        /// Until when it may be used without verifying or resolving again.
        let freshUntil: ContinuousClock.Instant
        /// Verified from a signed token: its revision is final, resolving again would not change it.
        let isSigned: Bool
    }

    private struct State {
        var snapshot: Snapshot?
        /// The highest revision heard of; a snapshot older than this is fetched again before use.
        var latestRevision: UInt64 = 0
        var backendInstance: UInt64?
        /// Tokens resolved or verified lately. A simple token is resolved again after `tokenFreshness`,
        /// which both renews its TTL at the backend (etcd renews on every use) and notices expiry; a JWT
        /// is kept until it expires.
        var tokens: [String: Identity] = [:]
        /// The last verification key built from a snapshot, reused while the backend publishes the same.
        var codec: (verification: TokenVerification, codec: JWTTokenCodec)?

        /// The snapshot, if no later revision has been heard of since it was taken.
        var currentSnapshot: Snapshot? {
            guard let snapshot, snapshot.table.revision >= latestRevision else { return nil }
            return snapshot
        }
    }

    private static let tokenFreshness: Duration = .seconds(1)
    /// Tokens remembered at most; beyond, the cache starts again (a token costs one verification more).
    private static let tokenCacheLimit = 100_000

    /// The state, shared with the event subscriber's callback.
    private final class SharedState: Sendable {
        let mutex = Mutex(State())
    }

    let backend: ServiceBackend
    private let shared = SharedState()
    private let events: EventSubscriber?
    private let logger: Logger

    init(backend: ServiceBackend, eventsEndpoint: String?, logger: Logger) throws {
        self.backend = backend
        self.logger = logger
        let shared = self.shared
        events = try eventsEndpoint.map { endpoint in
            try EventSubscriber(connect: endpoint, logger: logger) { payload in
                guard let event = try? Etcetera_Auth_AuthEvent(serializedBytes: payload) else { return }
                shared.mutex.withLock { state in
                    if state.backendInstance != event.instance {
                        // A restarted backend has forgotten every token it issued.
                        state.backendInstance = event.instance
                        state.tokens = [:]
                    }
                    if event.revision > state.latestRevision {
                        state.latestRevision = event.revision
                        state.tokens = [:]
                    }
                }
            }
        }
    }

    func close() {
        events?.close()
        backend.close()
    }

    /// Whether auth is known to be off right now (a watch stream then checks no create).
    var isKnownDisabled: Bool {
        shared.mutex.withLock { $0.currentSnapshot.map { !$0.enabled } ?? false }
    }

    /// Notes a revision the backend reported (its reply to a forwarded Auth call). A change may have
    /// ended tokens (a deleted user, a new password), so resolved tokens are resolved again.
    func heard(revision: UInt64) {
        shared.mutex.withLock { state in
            guard revision > state.latestRevision else { return }
            state.latestRevision = revision
            state.tokens = [:]
        }
    }

    /// Checks a call; nil when it may go ahead, otherwise the status its client gets.
    func check(_ context: CallContext, _ requirement: Requirement) async -> GRPCStatus? {
        let snapshot: Snapshot
        switch await currentSnapshot() {
        case .success(let current): snapshot = current
        case .failure(let status): return status
        }
        let cached = context.metadata["token"].flatMap { token in shared.mutex.withLock { $0.tokens[token] } }
        switch localDecision(context, requirement, snapshot, cached: cached) {
        case .decided(let status): return status
        case .needsBackend(let token): return Self.outcome(await resolve(token), requirement, snapshot)
        }
    }

    /// A decision made from the snapshot and what the gateway knows of the token, or the token the
    /// backend must resolve first.
    private enum LocalDecision {
        case decided(GRPCStatus?)
        case needsBackend(token: String)
    }

    /// Decides a call without the backend where possible: the one decision path of ``check(_:_:)`` and
    /// the calling-thread fast path. `requirement` is nil only while auth is off (then only a token that
    /// is sent is checked); `cached` is the token's identity as last learnt.
    private func localDecision(
        _ context: CallContext, _ requirement: Requirement?, _ snapshot: Snapshot, cached: Identity?
    ) -> LocalDecision {
        let token = context.metadata["token"]
        if let decided = Self.decidedWithoutIdentity(
            requirement, token: token, certificateUser: context.certificateUser, enabled: snapshot.enabled) { return .decided(decided) }
        let identity: Result<Identity, GRPCStatus>
        if let token, !token.isEmpty {
            guard let known = knownIdentity(token, snapshot, cached: cached) else { return .needsBackend(token: token) }
            identity = known
        } else if let certificateUser = context.certificateUser {
            identity = .success(Self.certificateIdentity(certificateUser, snapshot))
        } else {
            // Not reached: without a token or a certificate, `decidedWithoutIdentity` has decided.
            return .decided(nil)
        }
        return .decided(Self.outcome(identity, requirement, snapshot))
    }

    /// The status of a call whose caller is known (or whose token failed).
    private static func outcome(_ identity: Result<Identity, GRPCStatus>, _ requirement: Requirement?, _ snapshot: Snapshot) -> GRPCStatus? {
        switch identity {
        case .failure(let status): return status
        case .success(let known):
            guard snapshot.enabled, let requirement else { return nil }
            return decide(requirement, known, snapshot)
        }
    }

    /// The decision when it does not depend on who calls (nil: it does). With auth off, a call without a
    /// token passes, but a token that comes must still be valid, as in etcd (after AuthDisable no simple
    /// token is). With auth on, a call without a token fails unless it needs none, or unless the
    /// connection's verified client certificate names the caller (`--client-cert-auth`).
    private static func decidedWithoutIdentity(
        _ requirement: Requirement?, token: String?, certificateUser: String?, enabled: Bool
    ) -> GRPCStatus?? {
        let hasToken = !(token ?? "").isEmpty
        guard enabled else { return hasToken ? nil : .some(nil) }
        if case .undetermined(let status) = requirement { return status }
        guard hasToken else {
            if case .validTokenIfAny = requirement { return .some(nil) }
            // Spelt out: a ternary would type `nil` as "decided: allowed" (.some(nil)).
            guard certificateUser != nil else { return status("auth.user_empty") }
            return nil
        }
        return nil
    }

    /// The caller a client certificate's CN names (etcd's `AuthInfoFromTLS`): current by definition, so
    /// never refused as an old revision.
    private static func certificateIdentity(_ user: String, _ snapshot: Snapshot) -> Identity {
        Identity(user: user, revision: snapshot.table.revision, freshUntil: .now, isSigned: false)
    }

    /// Callback form of ``check(_:_:)`` for the handlers, which answer through callbacks. When the
    /// snapshot is current, the requirement known and the token known (or a JWT verifiable here), the
    /// call is decided at once on the calling thread; only what needs the backend or a lookup goes
    /// through a task. With auth off, `requirement` is not asked for (a lookup costs a kv round trip).
    func whenAllowed(_ context: CallContext, _ requirement: @escaping @Sendable () -> PendingRequirement, respond: @escaping Responder<[UInt8]>, body: @escaping @Sendable () -> Void) {
        if let decision = immediateDecision(context, requirement) {
            guard let status = decision else { return body() }
            return respond(.failure(status))
        }
        Task {
            if let status = await check(context, await requirement().resolved) { return respond(.failure(status)) }
            body()
        }
    }

    /// The decision (nil status: allowed) when it needs nothing from the backend; nil when it does.
    private func immediateDecision(_ context: CallContext, _ pending: () -> PendingRequirement) -> GRPCStatus?? {
        let token = context.metadata["token"]
        // One lock for both: the common case is decided from these two reads alone.
        let (current, cached) = shared.mutex.withLock { state in (state.currentSnapshot, token.flatMap { state.tokens[$0] }) }
        guard let snapshot = current else { return nil }
        var requirement: Requirement?
        if snapshot.enabled {
            guard case .known(let known) = pending() else { return nil }
            requirement = known
        }
        switch localDecision(context, requirement, snapshot, cached: cached) {
        case .decided(let status): return .some(status)
        case .needsBackend: return nil
        }
    }

    /// etcd's checks in etcd's order, for a caller whose token is valid.
    private static func decide(_ requirement: Requirement, _ identity: Identity, _ snapshot: Snapshot) -> GRPCStatus? {
        let table = snapshot.table
        let user = identity.user
        // IsAdminPermitted: no revision check; a user that is gone is "user name not found".
        func admin(denied: String = "auth.permission_denied") -> GRPCStatus? {
            guard table.contains(user: user) else { return status("auth.user_not_found") }
            return table.isAdmin(user) ? nil : status(denied)
        }
        switch requirement {
        case .authenticated, .validTokenIfAny, .undetermined:
            return nil
        case .keys(let ranges):
            // isOpPermitted: a token older than the permission state first, then an unknown user is denied.
            guard identity.revision >= table.revision else { return status("auth.old_revision") }
            let allowed = table.contains(user: user)
                && ranges.allSatisfy { table.isPermitted(user: user, key: $0.key, rangeEnd: $0.rangeEnd, $0.2) }
            return allowed ? nil : status("auth.permission_denied")
        case .admin(let denied):
            return admin(denied: denied)
        case .adminOrUser(let name):
            return user == name ? nil : admin()
        case .adminOrRole(let role):
            return snapshot.roles[user, default: []].contains(role) ? nil : admin()
        }
    }

    /// Who the token stands for without asking the backend: its cached identity (`cached`, read from the
    /// state) if still fresh, or a JWT verified here. Nil when the backend must resolve it.
    private func knownIdentity(_ token: String, _ snapshot: Snapshot, cached: Identity?) -> Result<Identity, GRPCStatus>? {
        let now = ContinuousClock.now
        if let cached, now < cached.freshUntil,
            cached.isSigned || cached.revision >= snapshot.table.revision {
            return .success(cached)
        }
        guard let codec = snapshot.codec else { return nil }
        let wallNow = Date()
        guard let claims = codec.verify(token, now: wallNow) else { return .failure(Self.status("auth.invalid_token")) }
        // Valid through the second `exp`: until exp + 1 on the wall clock, counted on the monotonic one.
        let lifetime = claims.exp.map { Duration.seconds(Double($0 + 1) - wallNow.timeIntervalSince1970) } ?? .seconds(3600)
        let identity = Identity(user: claims.username, revision: claims.revision, freshUntil: now + lifetime, isSigned: true)
        remember(token, identity)
        return .success(identity)
    }

    private func remember(_ token: String, _ identity: Identity) {
        shared.mutex.withLock { state in
            if state.tokens.count >= Self.tokenCacheLimit { state.tokens = [:] }
            state.tokens[token] = identity
        }
    }

    /// Completes once the backend has answered for the permission state; throws its status otherwise.
    func probe() async throws(GRPCStatus) {
        _ = try await currentSnapshot().get()
    }

    private func currentSnapshot() async -> Result<Snapshot, GRPCStatus> {
        if let cached = shared.mutex.withLock({ $0.currentSnapshot }) { return .success(cached) }
        var request = Etcetera_Auth_AuthRequest()
        request.permissions = Etcetera_Auth_PermissionsRequest()
        switch await ask(request) {
        case .failure(let status):
            return .failure(status)
        case .success(let reply):
            guard case .permissions(let permissions) = reply.reply else { return .failure(ServiceBackend.mismatch) }
            var merged: [String: MergedPermissions] = [:]
            var roles: [String: Set<String>] = [:]
            for user in permissions.users {
                merged[user.name] = MergedPermissions(
                    isRoot: user.isRoot,
                    read: user.read.map { KeyRange(key: Array($0.key), rangeEnd: Array($0.rangeEnd)) },
                    write: user.write.map { KeyRange(key: Array($0.key), rangeEnd: Array($0.rangeEnd)) })
                roles[user.name] = Set(user.roles)
            }
            let snapshot = Snapshot(
                enabled: permissions.enabled, table: PermissionTable(revision: permissions.revision, merged: merged), roles: roles,
                codec: permissions.hasTokenVerification ? await codec(for: permissions.tokenVerification) : nil)
            shared.mutex.withLock { state in
                state.latestRevision = max(state.latestRevision, permissions.revision)
                if (state.snapshot?.table.revision ?? 0) <= permissions.revision { state.snapshot = snapshot }
            }
            return .success(snapshot)
        }
    }

    /// The verification key a snapshot publishes, built once per key. A key that cannot be used is
    /// logged and its tokens resolved by the backend instead.
    private func codec(for wire: Etcetera_Auth_TokenVerification) async -> JWTTokenCodec? {
        let verification = TokenVerification(signMethod: wire.signMethod, publicKeyPEM: wire.publicKeyPem)
        if let known = shared.mutex.withLock({ $0.codec }), known.verification == verification { return known.codec }
        do {
            let codec = try await JWTKeys(verification: verification).codec()
            shared.mutex.withLock { $0.codec = (verification, codec) }
            return codec
        } catch {
            logger.error("cannot use the auth backend's token verification key", metadata: ["error": "\(error)"])
            return nil
        }
    }

    private func resolve(_ token: String) async -> Result<Identity, GRPCStatus> {
        let now = ContinuousClock.now
        var request = Etcetera_Auth_AuthRequest()
        request.resolveToken.token = token
        switch await ask(request) {
        case .failure(let status):
            shared.mutex.withLock { _ = $0.tokens.removeValue(forKey: token) }
            return .failure(status)
        case .success(let reply):
            guard case .resolveToken(let resolved) = reply.reply else { return .failure(ServiceBackend.mismatch) }
            let identity = Identity(
                user: resolved.user, revision: resolved.authRevision, freshUntil: now + Self.tokenFreshness, isSigned: false)
            remember(token, identity)
            return .success(identity)
        }
    }

    /// Sends a request to the auth backend; the reply's revision is noted on the way.
    func ask(_ request: Etcetera_Auth_AuthRequest) async -> Result<Etcetera_Auth_AuthReply, GRPCStatus> {
        let payload: [UInt8]
        do {
            payload = try request.serializedBytes()
        } catch {
            return .failure(GRPCStatus(code: .internalError, message: "etcetera: cannot encode auth request"))
        }
        return await exchange(payload).map(\.reply)
    }

    /// Sends an encoded `AuthRequest`; returns the reply both decoded and as it came (the Auth calls
    /// pass etcd's response through without re-encoding it), its revision noted and its error mapped.
    func exchange(_ payload: [UInt8]) async -> Result<(reply: Etcetera_Auth_AuthReply, bytes: [UInt8]), GRPCStatus> {
        await backend.exchange(payload).flatMap { bytes in
            guard let reply = try? Etcetera_Auth_AuthReply(serializedBytes: bytes) else {
                return .failure(GRPCStatus(code: .internalError, message: "etcetera: undecodable auth reply"))
            }
            heard(revision: reply.authRevision)
            if case .error(let error) = reply.reply { return .failure(ErrorMapping.status(code: error.code, detail: error.detail)) }
            return .success((reply, bytes))
        }
    }

    private static func status(_ code: String) -> GRPCStatus {
        ErrorMapping.status(code: code, detail: "")
    }
}
