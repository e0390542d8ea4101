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
    /// A call's requirement as a handler first sees it: known from the request alone (the common case,
    /// decided on the calling thread), or known only after a lookup (the keys attached to leases).
    enum PendingRequirement: Sendable {
        case known(AuthRequirement)
        /// `floor` is what the call needs whatever the lookup finds; it is decided first, so a caller
        /// refused anyway, or one allowed every key, costs no lookup. `resolve` may stop looking once
        /// `permits` refuses what it has found so far (finding more can only add to what is needed), and
        /// fails with the status the call gets when what it needs cannot be found out (the kv store did
        /// not answer).
        case lookup(
            floor: AuthRequirement,
            resolve: @Sendable (_ permits: (AuthRequirement) -> Bool) async -> Result<AuthRequirement, GRPCStatus>)
    }

    /// The answer to a call.
    private enum Verdict {
        case allowed
        case refused(GRPCStatus)
    }

    private struct Snapshot {
        let policy: AuthPolicy
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

        var info: AuthInfo { AuthInfo(user: user, revision: revision) }
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
            guard let snapshot, snapshot.policy.table.revision >= latestRevision else { return nil }
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
            try EventSubscriber(connect: endpoint, logger: logger) { payloads in
                let events = payloads.compactMap { try? Etcetera_Auth_AuthEvent(serializedBytes: $0) }
                shared.mutex.withLock { state in
                    for event in events {
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
    }

    func close() {
        events?.close()
        backend.close()
    }

    /// Whether auth is known to be off right now (a watch stream then checks no create).
    var isKnownDisabled: Bool {
        shared.mutex.withLock { $0.currentSnapshot.map { !$0.policy.isEnabled } ?? false }
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
    func check(_ context: CallContext, _ requirement: AuthRequirement) async -> GRPCStatus? {
        switch await verdict(context, .known(requirement)) {
        case .allowed: nil
        case .refused(let status): status
        }
    }

    /// Callback form of ``check(_:_:)`` for the handlers, which answer through callbacks. When the
    /// snapshot is current, the requirement known and the token known (or a JWT verifiable here), the
    /// call is decided at once on the calling thread; only what needs the backend or a lookup goes
    /// through a task. With auth off, `requirement` is not asked for.
    func whenAllowed(_ context: CallContext, _ requirement: @escaping @Sendable () -> PendingRequirement, respond: @escaping Responder<[UInt8]>, body: @escaping @Sendable () -> Void) {
        if let immediate = immediateVerdict(context, requirement) { return Self.act(on: immediate, respond: respond, body: body) }
        Task { Self.act(on: await verdict(context, requirement()), respond: respond, body: body) }
    }

    private static func act(on verdict: Verdict, respond: Responder<[UInt8]>, body: () -> Void) {
        switch verdict {
        case .allowed: body()
        case .refused(let status): respond(.failure(status))
        }
    }

    /// Who calls, as far as the gateway can tell without the backend.
    private enum LocalCaller {
        /// The user and auth revision the token or client certificate stands for; nil for neither.
        case known(AuthInfo?)
        /// The token is not valid.
        case refused(GRPCStatus)
        /// Only the backend can resolve the token.
        case needsBackend(token: String)
    }

    /// The verdict, asking the backend and running the lookup where needed: the snapshot, the caller,
    /// then ``AuthPolicy/decide(_:for:)``.
    private func verdict(_ context: CallContext, _ pending: PendingRequirement) async -> Verdict {
        let snapshot: Snapshot
        switch await currentSnapshot() {
        case .success(let current): snapshot = current
        case .failure(let status): return .refused(status)
        }
        let cached = context.metadata["token"].flatMap { token in shared.mutex.withLock { $0.tokens[token] } }
        let caller: AuthInfo?
        switch localCaller(context, snapshot, cached: cached) {
        case .known(let known): caller = known
        case .refused(let status): return .refused(status)
        case .needsBackend(let token):
            switch await resolve(token) {
            case .success(let identity): caller = identity.info
            case .failure(let status): return .refused(status)
            }
        }
        switch pending {
        case .known(let requirement):
            return Self.verdict(of: snapshot.policy.decide(requirement, for: caller))
        case .lookup(let floor, let resolve):
            if case .refused(let status) = Self.verdict(of: snapshot.policy.decide(floor, for: caller)) { return .refused(status) }
            guard snapshot.policy.isEnabled, snapshot.policy.decide(.everyKey, for: caller) != .allowed else { return .allowed }
            switch await resolve({ snapshot.policy.decide($0, for: caller) == .allowed }) {
            case .success(let requirement): return Self.verdict(of: snapshot.policy.decide(requirement, for: caller))
            case .failure(let status): return .refused(status)
            }
        }
    }

    /// The verdict when it needs neither the backend nor a lookup; nil when it does.
    private func immediateVerdict(_ context: CallContext, _ pending: () -> PendingRequirement) -> Verdict? {
        let token = context.metadata["token"]
        // One lock for both: the common case is decided from these two reads alone.
        let (current, cached) = shared.mutex.withLock { state in (state.currentSnapshot, token.flatMap { state.tokens[$0] }) }
        guard let snapshot = current else { return nil }
        let caller: AuthInfo?
        switch localCaller(context, snapshot, cached: cached) {
        case .known(let known): caller = known
        case .refused(let status): return .refused(status)
        case .needsBackend: return nil
        }
        guard snapshot.policy.isEnabled else { return .allowed }
        guard case .known(let requirement) = pending() else { return nil }
        return Self.verdict(of: snapshot.policy.decide(requirement, for: caller))
    }

    /// The caller from what the gateway knows: a token's cached identity or a JWT verified here; with
    /// auth on and no token, the user a verified client certificate names (etcd's `AuthInfoFromTLS`,
    /// current by definition, so never refused as an old revision). While auth is off only a token that
    /// is sent matters: it must be valid, as in etcd (after AuthDisable no simple token is).
    private func localCaller(_ context: CallContext, _ snapshot: Snapshot, cached: Identity?) -> LocalCaller {
        if let token = context.metadata["token"], !token.isEmpty {
            switch knownIdentity(token, snapshot, cached: cached) {
            case .success(let identity)?: return .known(identity.info)
            case .failure(let status)?: return .refused(status)
            case nil: return .needsBackend(token: token)
            }
        }
        guard snapshot.policy.isEnabled, let certificateUser = context.certificateUser else { return .known(nil) }
        return .known(AuthInfo(user: certificateUser, revision: snapshot.policy.table.revision))
    }

    private static func verdict(of decision: AuthPolicy.Decision) -> Verdict {
        switch decision {
        case .allowed: .allowed
        case .refused(let error): .refused(ErrorMapping.status(code: error.code, detail: ""))
        }
    }

    /// Who the token stands for without asking the backend: its cached identity (`cached`, read from the
    /// state) if still fresh, or a JWT verified here. Nil when the backend must resolve it.
    private func knownIdentity(_ token: String, _ snapshot: Snapshot, cached: Identity?) -> Result<Identity, GRPCStatus>? {
        let now = ContinuousClock.now
        if let cached, now < cached.freshUntil,
            cached.isSigned || cached.revision >= snapshot.policy.table.revision {
            return .success(cached)
        }
        guard let codec = snapshot.codec else { return nil }
        let wallNow = Date()
        guard let claims = codec.verify(token, now: wallNow) else {
            return .failure(ErrorMapping.status(code: AuthError.invalidToken.code, detail: ""))
        }
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
            let table = PermissionTable(revision: permissions.revision, merged: merged, roles: roles)
            let snapshot = Snapshot(
                policy: AuthPolicy(isEnabled: permissions.enabled, table: table),
                codec: permissions.hasTokenVerification ? await codec(for: permissions.tokenVerification) : nil)
            shared.mutex.withLock { state in
                state.latestRevision = max(state.latestRevision, permissions.revision)
                if (state.snapshot?.policy.table.revision ?? 0) <= permissions.revision { state.snapshot = snapshot }
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
}
