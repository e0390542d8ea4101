import Auth
import AuthStorage
import Bus
import Dispatch
import EtceteraAPI
import Foundation
import Logging
import ServiceLifecycle
import ServiceSupport
import Storage
import SwiftProtobuf
import Synchronization

/// An auth backend on the bus (docs/auth-plugins.md): etcd's Auth API, token resolution and the permission
/// snapshots gateways enforce with, over an ``AuthState``. etcetera-auth serves an ``AuthStore`` kept in its
/// own storage, which takes the Auth API's changes; a backend whose state comes from elsewhere (the file
/// backend) serves a read-only state, and every change is answered with `auth.read_only`. Reads are then
/// answered by the same code whichever backend runs.
///
/// Every state access runs on one serial queue, in arrival order. bcrypt (about 90 ms at etcd's cost)
/// never does: passwords are hashed and verified on other queues between two short visits to the
/// state's queue, so a slow Authenticate never holds up a token resolution or a permission snapshot.
/// Passwords, hashes and tokens never reach the log.
public final class AuthServer: Service, Sendable {
    public struct Configuration: Sendable {
        /// Where gateways send auth requests.
        public var listenEndpoint: String
        /// Where ``Etcetera_Auth_AuthEvent``s are published.
        public var eventsEndpoint: String
        /// etcd's `--auth-token`: simple tokens (the default) or signed JWTs.
        public var tokens: Tokens = .simple
        /// etcd's `--auth-token-ttl`: a simple token unused for this long stops working. Zero or less
        /// means etcd's default, 300 s. (JWTs carry their own `ttl` option.)
        public var tokenTTL: Duration = .seconds(300)
        /// etcd's `--bcrypt-cost`; values outside 4…31 fall back to 10 (with a warning), as in etcd.
        public var bcryptCost = PasswordHash.defaultCost
        /// How often the current revision is published even when nothing changed, and the state refreshed
        /// (expired tokens freed, outside changes taken in).
        public var heartbeatInterval: Duration = .seconds(1)
        /// How many password checks and hashes (Authenticate, UserAdd, UserChangePassword) may wait for
        /// a bcrypt worker; more are turned away at once as overload (etcd's `too many requests`), so a
        /// flood of Authenticate calls, which need no token, cannot keep the CPU busy for callers long
        /// gone. A few: each waits for the hashes before it (about 0.1 s each at etcd's cost, more on a
        /// busy machine), and the gateway gives up after 5 s.
        public var waitingPasswordChecks = 8
        /// How many bcrypt runs go at once: one core is left to everything else, so a flood of
        /// Authenticate calls cannot take the CPU from other requests.
        public var passwordCheckWorkers = max(ProcessInfo.processInfo.activeProcessorCount - 1, 1)
        /// How many requests, and how many bytes of them, may wait for the state's queue before more
        /// are turned away as overload (``BusSerialLine``); a request let in runs however late.
        public var waitingRequestLimit = 65_536
        public var waitingRequestBytes = 64 << 20

        public init(listenEndpoint: String, eventsEndpoint: String) {
            self.listenEndpoint = listenEndpoint
            self.eventsEndpoint = eventsEndpoint
        }

        /// The token lifetime to use: ``tokenTTL``, or etcd's 300 s for zero or less.
        public var effectiveTokenTTL: Duration { tokenTTL > .zero ? tokenTTL : .seconds(300) }
    }

    /// Which tokens Authenticate issues.
    public enum Tokens: Sendable, CustomStringConvertible {
        case simple
        /// JWTs made with the key (``JWTKeys/codec()``), valid for `ttl` after Authenticate.
        case jwt(JWTTokenCodec, ttl: Duration)

        public var description: String {
            switch self {
            case .simple: "simple"
            case .jwt(let codec, let ttl): "\(codec), ttl \(ttl)"
            }
        }
    }

    /// How many times Authenticate checks a password again when the store changed during the check.
    private static let authenticateAttempts = 3

    private let configuration: Configuration
    private let logger: Logger
    private let server: BusServer
    private let publisher: EventPublisher
    private let queue = DispatchQueue(label: "auth-store")
    /// Where requests wait for `queue`: a bounded line.
    private let requests: BusSerialLine
    /// Where passwords are hashed and verified: a core left free, a bounded line, and requests whose
    /// callers gave up dropped unhashed.
    private let bcrypt: BusWorkQueue
    private let state: QueueConfinedState
    /// Chosen at start: a new value tells subscribers the backend restarted, so that they drop the token
    /// resolutions they cached (the store keeps its simple tokens, but not the time of their last use).
    private let instance = UInt64.random(in: 1...UInt64.max)

    /// etcetera-auth: opens the auth state in `storage` and binds both endpoints.
    public convenience init(configuration: Configuration, storage: any KeyValueStorage, logger: Logger) throws {
        if !PasswordHash.costs.contains(configuration.bcryptCost) {
            logger.warning("use default bcrypt cost instead of the invalid given cost", metadata: [
                "min-cost": "\(PasswordHash.costs.lowerBound)", "max-cost": "\(PasswordHash.costs.upperBound)",
                "default-cost": "\(PasswordHash.defaultCost)", "given-cost": "\(configuration.bcryptCost)",
            ])
        }
        var storeConfiguration = AuthStore.Configuration()
        storeConfiguration.bcryptCost = configuration.bcryptCost
        let tokenProvider: any TokenProvider
        switch configuration.tokens {
        case .simple:
            logger.warning("simple token is not cryptographically signed")
            tokenProvider = SimpleTokenProvider(configuration: configuration.tokenProviderConfiguration)
        case .jwt(let codec, let ttl):
            tokenProvider = JWTTokenProvider(codec: codec, ttl: ttl)
        }
        let store = try AuthStore(storage: storage, configuration: storeConfiguration, tokenProvider: tokenProvider)
        try self.init(configuration: configuration, state: QueueConfinedState(store, writable: store, readOnlySource: ""), logger: logger)
    }

    /// A backend whose users and roles cannot be changed over the bus; binds both endpoints.
    /// - Parameters:
    ///   - readOnlyState: what requests are answered from; its ``AuthState/refresh(now:)`` runs every
    ///     ``Configuration/heartbeatInterval`` and may raise its revision (an event is published at once).
    ///   - source: where the state comes from (a file's path), the detail of every `auth.read_only` answer.
    public convenience init(configuration: Configuration, readOnlyState: any AuthState, source: String, logger: Logger) throws {
        try self.init(configuration: configuration, state: QueueConfinedState(readOnlyState, writable: nil, readOnlySource: source), logger: logger)
    }

    private init(configuration: Configuration, state: QueueConfinedState, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        self.state = state
        requests = BusSerialLine(
            queue: queue, waitingLimit: configuration.waitingRequestLimit, byteLimit: configuration.waitingRequestBytes)
        bcrypt = BusWorkQueue(
            label: "auth-bcrypt", concurrency: configuration.passwordCheckWorkers, waitingLimit: configuration.waitingPasswordChecks)
        publisher = try EventPublisher(bind: configuration.eventsEndpoint, logger: logger)
        server = try BusServer(bind: configuration.listenEndpoint, logger: logger)
    }

    public func run() async throws {
        let (revision, enabled) = queue.sync { (state.current.revision, state.current.isEnabled) }
        var metadata: Logger.Metadata = [
            "listen": "\(configuration.listenEndpoint)", "events": "\(configuration.eventsEndpoint)",
            "auth-revision": "\(revision)", "auth-enabled": "\(enabled)",
            "tokens": "\(configuration.tokens)", "token-ttl": "\(configuration.effectiveTokenTTL)",
        ]
        if state.writable == nil {
            metadata["read-only-source"] = "\(state.readOnlySource)"
        } else {
            metadata["bcrypt-cost"] = "\(effectiveBcryptCost)"
        }
        logger.info("auth service serving", metadata: metadata)
        let timer = DispatchSource.repeatingTimer(every: configuration.heartbeatInterval, on: queue) { [self] in
            state.current.refresh(now: .now)
            publish()
        }
        defer {
            queue.sync { timer.cancel() }
            publisher.close()
        }
        try await withGracefulShutdownHandler {
            try await server.run { self.handle($0) }
        } onGracefulShutdown: {
            self.server.close()
        }
    }

    // MARK: Requests

    /// Runs on the bus thread: decodes and posts to the state's queue, through its bounded line.
    private func handle(_ incoming: BusIncomingRequest) {
        guard let request = try? Etcetera_Auth_AuthRequest(serializedBytes: incoming.payload), let body = request.request else {
            return requests.submit(incoming) { [self] in
                answer(incoming, .failure(ServiceFailure(code: "bus.malformed_request", detail: "undecodable AuthRequest")))
            }
        }
        requests.submit(incoming) { [self] in
            if case .authenticate(let request) = body { return authenticate(request, incoming, attempt: 1) }
            guard body.isChange else {
                return answer(incoming, Result { () throws(AuthError) in try read(body) }.mapError(ServiceFailure.init))
            }
            guard let store = state.writable else {
                logger.debug("refused a change: the auth state is read-only", metadata: ["source": "\(state.readOnlySource)"])
                return answer(incoming, .failure(ServiceFailure(.readOnly(state.readOnlySource))))
            }
            switch body {
            case .userAdd(let request): return addUser(request, store, incoming)
            case .userChangePassword(let request): return changePassword(request, store, incoming)
            default: break
            }
            let before = store.revision
            answer(incoming, Result { () throws(AuthError) in try apply(body, to: store) }.mapError(ServiceFailure.init))
            if store.revision != before { publish() }
        }
    }

    /// The requests that only read (Authenticate aside), on the state's queue.
    private func read(_ body: Etcetera_Auth_AuthRequest.OneOf_Request) throws(AuthError) -> Etcetera_Auth_AuthReply.OneOf_Reply {
        let current = state.current
        switch body {
        case .userGet(let request):
            var response = Etcdserverpb_AuthUserGetResponse()
            response.roles = try current.user(named: request.name).roles
            return .userGet(response)
        case .userList:
            var response = Etcdserverpb_AuthUserListResponse()
            response.users = current.userNames
            return .userList(response)
        case .roleGet(let request):
            var response = Etcdserverpb_AuthRoleGetResponse()
            response.perm = try current.role(named: request.role).permissions.map(Self.wire)
            return .roleGet(response)
        case .roleList:
            var response = Etcdserverpb_AuthRoleListResponse()
            response.roles = current.roleNames
            return .roleList(response)
        case .resolveToken(let request):
            guard let info = try current.authInfo(token: request.token.isEmpty ? nil : request.token, now: .now) else {
                throw .invalidToken
            }
            var resolved = Etcetera_Auth_ResolvedToken()
            resolved.user = info.user
            resolved.authRevision = info.revision
            return .resolveToken(resolved)
        case .permissions:
            return .permissions(snapshot())
        default:
            preconditionFailure("changes and Authenticate are handled elsewhere")
        }
    }

    /// The changes that need no bcrypt, on the store's queue.
    private func apply(_ body: Etcetera_Auth_AuthRequest.OneOf_Request, to store: AuthStore) throws(AuthError) -> Etcetera_Auth_AuthReply.OneOf_Reply {
        switch body {
        case .authEnable:
            try store.enable()
            logger.notice("auth enabled", metadata: ["auth-revision": "\(store.revision)"])
            return .authEnable(.init())
        case .authDisable:
            try store.disable()
            logger.notice("auth disabled", metadata: ["auth-revision": "\(store.revision)"])
            return .authDisable(.init())
        case .userDelete(let request):
            try store.deleteUser(name: request.name)
            logger.info("deleted a user", metadata: ["user": "\(request.name)"])
            return .userDelete(.init())
        case .userGrantRole(let request):
            try store.grantRole(request.role, to: request.user)
            logger.info("granted a role to a user", metadata: ["user": "\(request.user)", "role": "\(request.role)"])
            return .userGrantRole(.init())
        case .userRevokeRole(let request):
            try store.revokeRole(request.role, from: request.name)
            logger.info("revoked a role from a user", metadata: ["user": "\(request.name)", "role": "\(request.role)"])
            return .userRevokeRole(.init())
        case .roleAdd(let request):
            try store.addRole(name: request.name)
            logger.info("created a role", metadata: ["role": "\(request.name)"])
            return .roleAdd(.init())
        case .roleDelete(let request):
            try store.deleteRole(name: request.role)
            logger.info("deleted a role", metadata: ["role": "\(request.role)"])
            return .roleDelete(.init())
        case .roleGrantPermission(let request):
            // etcd looks the role up first: a missing role is "role name not found" whatever the permission.
            _ = try store.role(named: request.name)
            guard request.hasPerm else { throw .permissionNotGiven }
            let permission = try Self.permission(request.perm)
            try store.grantPermission(permission, to: request.name)
            logger.info("granted a permission to a role", metadata: ["role": "\(request.name)", "permission": "\(permission)"])
            return .roleGrantPermission(.init())
        case .roleRevokePermission(let request):
            try store.revokePermission(key: Array(request.key), rangeEnd: Array(request.rangeEnd), from: request.role)
            logger.info("revoked a permission from a role", metadata: [
                "role": "\(request.role)", "key": "\(String(decoding: request.key, as: UTF8.self).debugDescription)",
                "range-end": "\(String(decoding: request.rangeEnd, as: UTF8.self).debugDescription)",
            ])
            return .roleRevokePermission(.init())
        default:
            preconditionFailure("reads, Authenticate and the changes that hash are handled elsewhere")
        }
    }

    /// etcd's Authenticate in three steps: read the user's hash on the state's queue, verify the password
    /// on the bcrypt queue, then issue the token on the state's queue if nothing changed meanwhile (or check
    /// again, as etcd does).
    private func authenticate(_ request: Etcdserverpb_AuthenticateRequest, _ incoming: BusIncomingRequest, attempt: Int) {
        let current = state.current
        let hash: PasswordHash
        let checkedRevision = current.revision
        do throws(AuthError) {
            guard current.isEnabled else { throw .notEnabled }
            guard let user = try? current.user(named: request.name) else { throw .authFailed }
            guard !user.noPassword, let stored = user.passwordHash else { throw .noPasswordUser }
            hash = stored
        } catch {
            return refuseAuthentication(request.name, error, incoming)
        }
        bcrypt.submit(incoming) { [self] in
            let matches = hash.verify(request.password)
            queue.async { [self] in
                guard matches else { return refuseAuthentication(request.name, .authFailed, incoming) }
                do throws(AuthError) {
                    var response = Etcdserverpb_AuthenticateResponse()
                    response.token = try state.current.issueToken(name: request.name, checkedRevision: checkedRevision, now: .now)
                    logger.debug("authenticated a user", metadata: ["user": "\(request.name)"])
                    answer(incoming, .success(.authenticate(response)))
                } catch where error == .oldRevision && attempt < Self.authenticateAttempts {
                    authenticate(request, incoming, attempt: attempt + 1)
                } catch {
                    refuseAuthentication(request.name, error, incoming)
                }
            }
        }
    }

    private func refuseAuthentication(_ name: String, _ error: AuthError, _ incoming: BusIncomingRequest) {
        logger.debug("authentication refused", metadata: ["user": "\(name)", "error": "\(error.code)"])
        answer(incoming, .failure(ServiceFailure(error)))
    }

    /// UserAdd: the cheap refusals first, then the hash off the store's queue, then the add (which checks
    /// again: another request may have added the same name meanwhile).
    private func addUser(_ request: Etcdserverpb_AuthUserAddRequest, _ store: AuthStore, _ incoming: BusIncomingRequest) {
        if request.name.isEmpty { return answer(incoming, .failure(ServiceFailure(.userEmpty))) }
        if (try? store.user(named: request.name)) != nil { return answer(incoming, .failure(ServiceFailure(.userAlreadyExists))) }
        let noPassword = request.hasOptions && request.options.noPassword
        withHash(of: noPassword ? nil : request.password, incoming) { [self] (hash, store) throws(AuthError) in
            try store.addUser(name: request.name, passwordHash: hash)
            logger.info("added a user", metadata: ["user": "\(request.name)", "no-password": "\(noPassword)"])
            return .userAdd(.init())
        }
    }

    /// UserChangePassword: as UserAdd, the user's existence checked before paying for the hash.
    private func changePassword(_ request: Etcdserverpb_AuthUserChangePasswordRequest, _ store: AuthStore, _ incoming: BusIncomingRequest) {
        if (try? store.user(named: request.name)) == nil { return answer(incoming, .failure(ServiceFailure(.userNotFound))) }
        withHash(of: request.password, incoming) { [self] (hash, store) throws(AuthError) in
            guard let hash else { throw .passwordHashFailed("no hash") }
            try store.changePassword(name: request.name, passwordHash: hash)
            logger.info("changed a user's password", metadata: ["user": "\(request.name)"])
            return .userChangePassword(.init())
        }
    }

    /// Hashes `password` (nil: no password, nothing to hash) on the bcrypt queue, then runs `apply` with
    /// the hash and the store on the store's queue and answers with its result.
    private func withHash(
        of password: String?, _ incoming: BusIncomingRequest,
        apply: @escaping @Sendable (PasswordHash?, AuthStore) throws(AuthError) -> Etcetera_Auth_AuthReply.OneOf_Reply
    ) {
        let effectiveCost = effectiveBcryptCost
        bcrypt.submit(incoming) { [self] in
            let hashed = Result { () throws(AuthError) -> PasswordHash? in
                guard let password else { return nil }
                return try PasswordHash.make(password: password, cost: effectiveCost)
            }
            queue.async { [self] in
                guard let store = state.writable else { preconditionFailure("only a writable store takes changes") }
                let before = store.revision
                answer(incoming, hashed.flatMap { hash in Result { () throws(AuthError) in try apply(hash, store) } }.mapError(ServiceFailure.init))
                if store.revision != before { publish() }
            }
        }
    }

    // MARK: Permission snapshots and events

    /// The whole permission state at the current revision; encoded once per revision.
    private func snapshot() -> Etcetera_Auth_PermissionSnapshot {
        let store = state.current
        if let cached = state.snapshot, cached.revision == store.revision { return cached }
        let table = store.permissionTable
        var snapshot = Etcetera_Auth_PermissionSnapshot()
        snapshot.enabled = store.isEnabled
        snapshot.revision = store.revision
        snapshot.users = store.userNames.compactMap { name in
            guard let user = try? store.user(named: name), let merged = table.mergedPermissions(of: name) else { return nil }
            var permissions = Etcetera_Auth_UserPermissions()
            permissions.name = name
            permissions.isRoot = merged.isRoot
            permissions.roles = user.roles
            permissions.read = merged.read.map(Self.wire)
            permissions.write = merged.write.map(Self.wire)
            return permissions
        }
        if let verification = store.tokenVerification {
            snapshot.tokenVerification.signMethod = verification.signMethod
            snapshot.tokenVerification.publicKeyPem = verification.publicKeyPEM
        }
        state.snapshot = snapshot
        return snapshot
    }

    /// Publishes the current revision (on the state's queue).
    private func publish() {
        var event = Etcetera_Auth_AuthEvent()
        event.revision = state.current.revision
        event.enabled = state.current.isEnabled
        event.instance = instance
        guard let payload = try? event.serializedBytes() as [UInt8] else { return }
        publisher.publish(payload)
    }

    // MARK: Plumbing

    /// The cost passwords are hashed with: the configured one, or etcd's default when it is out of range.
    private var effectiveBcryptCost: Int {
        PasswordHash.costs.contains(configuration.bcryptCost) ? configuration.bcryptCost : PasswordHash.defaultCost
    }

    /// Sends the reply with the current revision (on the state's queue).
    private func answer(_ incoming: BusIncomingRequest, _ result: Result<Etcetera_Auth_AuthReply.OneOf_Reply, ServiceFailure>) {
        var reply = Etcetera_Auth_AuthReply()
        switch result {
        case .success(let body):
            reply.reply = body
        case .failure(let failure):
            reply.error.code = failure.code
            reply.error.detail = failure.detail
            if failure.isServerFault { logger.error("auth request failed", metadata: ["error": "\(failure.code)", "detail": "\(failure.detail)"]) }
        }
        reply.authRevision = state.current.revision
        incoming.reply((try? reply.serializedBytes()) ?? [])
    }

    private static func permission(_ wire: Authpb_Permission) throws(AuthError) -> Permission {
        guard let type = PermissionType(rawValue: Int32(wire.permType.rawValue)) else { throw .permissionNotGiven }
        return Permission(type, key: Array(wire.key), rangeEnd: Array(wire.rangeEnd))
    }

    private static func wire(_ permission: Permission) -> Authpb_Permission {
        var wire = Authpb_Permission()
        wire.permType = Authpb_Permission.TypeEnum(rawValue: Int(permission.type.rawValue)) ?? .read
        wire.key = Data(permission.key)
        wire.rangeEnd = Data(permission.rangeEnd)
        return wire
    }

    private static func wire(_ range: KeyRange) -> Etcetera_Auth_KeyRange {
        var wire = Etcetera_Auth_KeyRange()
        wire.key = Data(range.key)
        wire.rangeEnd = Data(range.rangeEnd)
        return wire
    }
}

/// A failure as it goes on the bus: an ``AuthError``'s code, or a bus-level one.
private struct ServiceFailure: Error {
    let code: String
    let detail: String

    init(code: String, detail: String) {
        self.code = code
        self.detail = detail
    }

    init(_ error: AuthError) {
        code = error.code
        detail = error.detail
    }

    /// Failures of the service rather than refusals of the request: worth an error in the log.
    var isServerFault: Bool {
        code.hasPrefix("storage.") || code == "auth.password_hash_failed" || code == "bus.malformed_request"
    }
}

/// What only the state's queue touches.
private final class QueueConfinedState: @unchecked Sendable {
    /// What requests are answered from.
    let current: any AuthState
    /// The same state when it takes the Auth API's changes (etcetera-auth); nil for a read-only one.
    let writable: AuthStore?
    /// Where a read-only state comes from, for `auth.read_only` answers.
    let readOnlySource: String
    /// The last permission snapshot built, reused while the revision stays.
    var snapshot: Etcetera_Auth_PermissionSnapshot?

    init(_ current: any AuthState, writable: AuthStore?, readOnlySource: String) {
        self.current = current
        self.writable = writable
        self.readOnlySource = readOnlySource
    }
}

extension AuthServer.Configuration {
    /// The simple tokens' settings these flags give (every backend issues them alike).
    public var tokenProviderConfiguration: SimpleTokenProvider.Configuration {
        var tokens = SimpleTokenProvider.Configuration()
        tokens.ttl = effectiveTokenTTL
        return tokens
    }
}

extension Etcetera_Auth_AuthRequest.OneOf_Request {
    /// Whether the request changes users, roles, permissions or the enabled flag (a read-only backend
    /// refuses it).
    var isChange: Bool {
        switch self {
        case .authEnable, .authDisable, .userAdd, .userDelete, .userChangePassword, .userGrantRole, .userRevokeRole,
             .roleAdd, .roleDelete, .roleGrantPermission, .roleRevokePermission:
            true
        case .authenticate, .userGet, .userList, .roleGet, .roleList, .resolveToken, .permissions:
            false
        }
    }
}
