import Auth
import Bus
import EtceteraAPI
import GRPCWire
import Logging
import Synchronization

/// The gateway's side of auth: who a call's token stands for, and whether that user may make the call,
/// decided here from the auth backend's permission snapshot (docs/auth-plugins.md) so that the common
/// path costs no bus round trip. The snapshot is fetched again whenever the backend's revision moves:
/// the gateway learns it from the replies to the Auth calls it forwards (so its own changes apply to the
/// very next request) and from the backend's events (changes made through another gateway). While auth
/// is off, calls pass after one lock-protected read.
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

    private struct Snapshot {
        let enabled: Bool
        let table: PermissionTable
        let roles: [String: Set<String>]
    }

    private struct State {
        var snapshot: Snapshot?
        /// The highest revision heard of; a snapshot older than this is fetched again before use.
        var latestRevision: UInt64 = 0
        var backendInstance: UInt64?
        /// Tokens resolved lately. Each is resolved again after `tokenFreshness`, which both renews its
        /// TTL at the backend (etcd renews on every use) and notices expiry.
        var tokens: [String: (user: String, resolvedAt: ContinuousClock.Instant)] = [:]

        /// The snapshot, if no later revision has been heard of since it was taken.
        var currentSnapshot: Snapshot? {
            guard let snapshot, snapshot.table.revision >= latestRevision else { return nil }
            return snapshot
        }
    }

    private static let tokenFreshness: Duration = .seconds(1)

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

    /// Whether auth is known to be off right now: then no call needs a check.
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
        guard snapshot.enabled else { return nil }
        if case .undetermined(let status) = requirement { return status }
        if case .validTokenIfAny = requirement, context.metadata["token", default: ""].isEmpty { return nil }
        let user: String
        switch await caller(of: context) {
        case .success(let resolved): user = resolved
        case .failure(let status): return status
        }
        let table = snapshot.table
        guard table.contains(user: user) else {
            // etcd's key checks deny a user it cannot find (a certificate's CN need not name one).
            if case .keys = requirement { return Self.status("auth.permission_denied") }
            return Self.status("auth.user_not_found")
        }
        switch requirement {
        case .authenticated, .validTokenIfAny, .undetermined:
            return nil
        case .keys(let ranges):
            let allowed = ranges.allSatisfy { table.isPermitted(user: user, key: $0.key, rangeEnd: $0.rangeEnd, $0.2) }
            return allowed ? nil : Self.status("auth.permission_denied")
        case .admin(let denied):
            return table.isAdmin(user) ? nil : Self.status(denied)
        case .adminOrUser(let name):
            return table.isAdmin(user) || user == name ? nil : Self.status("auth.permission_denied")
        case .adminOrRole(let role):
            return table.isAdmin(user) || snapshot.roles[user, default: []].contains(role) ? nil : Self.status("auth.permission_denied")
        }
    }

    /// Callback form of ``check(_:_:)`` for the handlers, which answer through callbacks; with auth
    /// known to be off, `body` runs at once on the calling thread and `requirement` is not asked for
    /// (it may cost a kv round trip).
    func whenAllowed(_ context: CallContext, _ requirement: @escaping @Sendable () async -> Requirement, respond: @escaping Responder<[UInt8]>, body: @escaping @Sendable () -> Void) {
        if isKnownDisabled { return body() }
        Task {
            if let status = await check(context, await requirement()) { return respond(.failure(status)) }
            body()
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
                enabled: permissions.enabled, table: PermissionTable(revision: permissions.revision, merged: merged), roles: roles)
            shared.mutex.withLock { state in
                state.latestRevision = max(state.latestRevision, permissions.revision)
                if (state.snapshot?.table.revision ?? 0) <= permissions.revision { state.snapshot = snapshot }
            }
            return .success(snapshot)
        }
    }

    /// The user a call is made as: its token's, or else, under `--client-cert-auth`, the one named by
    /// the connection's verified client certificate (etcd's `AuthInfoFromTLS`).
    private func caller(of context: CallContext) async -> Result<String, GRPCStatus> {
        if let token = context.metadata["token"], !token.isEmpty { return await resolve(token) }
        if let certificateUser = context.certificateUser { return .success(certificateUser) }
        return .failure(Self.status("auth.user_empty"))
    }

    private func resolve(_ token: String) async -> Result<String, GRPCStatus> {
        let now = ContinuousClock.now
        if let cached = shared.mutex.withLock({ $0.tokens[token] }), now - cached.resolvedAt < Self.tokenFreshness {
            return .success(cached.user)
        }
        var request = Etcetera_Auth_AuthRequest()
        request.resolveToken.token = token
        switch await ask(request) {
        case .failure(let status):
            shared.mutex.withLock { _ = $0.tokens.removeValue(forKey: token) }
            return .failure(status)
        case .success(let reply):
            guard case .resolveToken(let resolved) = reply.reply else { return .failure(ServiceBackend.mismatch) }
            shared.mutex.withLock { $0.tokens[token] = (resolved.user, now) }
            return .success(resolved.user)
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
