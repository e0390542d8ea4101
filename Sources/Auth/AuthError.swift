/// A refused auth operation or permission check. The auth service sends `code` over the bus; the gateway
/// alone turns it into etcd's gRPC status and message. Opaque (a struct over a private enum) so kinds can
/// be added without breaking callers. `detail` is for logs and never holds a password, hash or token.
///
/// | code | etcd error | gRPC code | etcd's message |
/// |---|---|---|---|
/// | `auth.root_user_not_exist` | ErrRootUserNotExist | FailedPrecondition | `etcdserver: root user does not exist` |
/// | `auth.root_role_not_exist` | ErrRootRoleNotExist | FailedPrecondition | `etcdserver: root user does not have root role` |
/// | `auth.user_already_exists` | ErrUserAlreadyExist | FailedPrecondition | `etcdserver: user name already exists` |
/// | `auth.user_empty` | ErrUserEmpty | InvalidArgument | `etcdserver: user name is empty` |
/// | `auth.user_not_found` | ErrUserNotFound | FailedPrecondition | `etcdserver: user name not found` |
/// | `auth.role_already_exists` | ErrRoleAlreadyExist | FailedPrecondition | `etcdserver: role name already exists` |
/// | `auth.role_not_found` | ErrRoleNotFound | FailedPrecondition | `etcdserver: role name not found` |
/// | `auth.role_empty` | ErrRoleEmpty | InvalidArgument | `etcdserver: role name is empty` |
/// | `auth.failed` | ErrAuthFailed | InvalidArgument | `etcdserver: authentication failed, invalid user ID or password` |
/// | `auth.no_password_user` | ErrNoPasswordUser (unmapped in etcd) | Unknown | `auth: authentication failed, password was given for no password user` |
/// | `auth.permission_denied` | ErrPermissionDenied | PermissionDenied | `etcdserver: permission denied` (Maintenance's Defragment, Snapshot, Hash, HashKV: Unknown, `auth: permission denied`) |
/// | `auth.role_not_granted` | ErrRoleNotGranted | FailedPrecondition | `etcdserver: role is not granted to the user` |
/// | `auth.permission_not_granted` | ErrPermissionNotGranted | FailedPrecondition | `etcdserver: permission is not granted to the role` |
/// | `auth.permission_not_given` | ErrPermissionNotGiven (etcd 3.5; 3.4 crashes) | InvalidArgument | `etcdserver: permission not given` |
/// | `auth.not_enabled` | ErrAuthNotEnabled | FailedPrecondition | `etcdserver: authentication is not enabled` |
/// | `auth.invalid_token` | ErrInvalidAuthToken | Unauthenticated | `etcdserver: invalid auth token` |
/// | `auth.invalid_management` | ErrInvalidAuthMgmt | InvalidArgument | `etcdserver: invalid auth management` |
/// | `auth.old_revision` | ErrAuthOldRevision | InvalidArgument | `etcdserver: revision of auth store is old` |
/// | `auth.invalid_password` | none (Etcetera only: a NUL character in a password) | InvalidArgument | (Etcetera's own) |
/// | `auth.read_only` | none (Etcetera only: a backend whose users and roles come from elsewhere, e.g. a file) | FailedPrecondition | (Etcetera's own) |
/// | `auth.verify_only` | ErrVerifyOnly (unmapped in etcd) | Unknown | `auth: token signing attempted with verify-only key` |
/// | `auth.token_signing_failed` | none (a JWT could not be signed) | Internal | `etcetera: <code>: <detail>` |
/// | `auth.password_hash_failed` | none (bcrypt failed) | Internal | `etcetera: <code>: <detail>` |
/// | `storage.failure` | none | Internal | `etcetera: <code>: <detail>` |
/// | `storage.corrupt` | none | DataLoss | `etcdserver: corrupt cluster` |
public struct AuthError: Error, Sendable, Hashable, CustomStringConvertible {
    private enum Kind: String, Sendable, Hashable, CaseIterable {
        case rootUserNotExist = "auth.root_user_not_exist"
        case rootRoleNotExist = "auth.root_role_not_exist"
        case userAlreadyExists = "auth.user_already_exists"
        case userEmpty = "auth.user_empty"
        case userNotFound = "auth.user_not_found"
        case roleAlreadyExists = "auth.role_already_exists"
        case roleNotFound = "auth.role_not_found"
        case roleEmpty = "auth.role_empty"
        case authFailed = "auth.failed"
        case noPasswordUser = "auth.no_password_user"
        case permissionDenied = "auth.permission_denied"
        case roleNotGranted = "auth.role_not_granted"
        case permissionNotGranted = "auth.permission_not_granted"
        case permissionNotGiven = "auth.permission_not_given"
        case notEnabled = "auth.not_enabled"
        case invalidToken = "auth.invalid_token"
        case invalidManagement = "auth.invalid_management"
        case oldRevision = "auth.old_revision"
        case invalidPassword = "auth.invalid_password"
        case readOnly = "auth.read_only"
        case verifyOnly = "auth.verify_only"
        case tokenSigningFailed = "auth.token_signing_failed"
        case passwordHashFailed = "auth.password_hash_failed"
        case storageFailure = "storage.failure"
        case corrupt = "storage.corrupt"
    }

    private let kind: Kind
    /// Extra context for logs; never shown to clients, never a secret.
    public let detail: String

    private init(_ kind: Kind, detail: String = "") {
        self.kind = kind
        self.detail = detail
    }

    /// Auth enable without a user named root.
    public static let rootUserNotExist = AuthError(.rootUserNotExist)
    /// Auth enable while the root user lacks the root role (etcdctl then adds and grants it, and retries).
    public static let rootRoleNotExist = AuthError(.rootRoleNotExist)
    public static let userAlreadyExists = AuthError(.userAlreadyExists)
    /// An empty user name, or a request without credentials while auth is enabled.
    public static let userEmpty = AuthError(.userEmpty)
    public static let userNotFound = AuthError(.userNotFound)
    public static let roleAlreadyExists = AuthError(.roleAlreadyExists)
    public static let roleNotFound = AuthError(.roleNotFound)
    public static let roleEmpty = AuthError(.roleEmpty)
    /// Unknown user or wrong password: deliberately the same error for both.
    public static let authFailed = AuthError(.authFailed)
    /// A password was given for a user created with `no_password`.
    public static let noPasswordUser = AuthError(.noPasswordUser)
    public static let permissionDenied = AuthError(.permissionDenied)
    /// Revoking a role the user does not have.
    public static let roleNotGranted = AuthError(.roleNotGranted)
    /// Revoking a permission (key and range end) the role does not have.
    public static let permissionNotGranted = AuthError(.permissionNotGranted)
    /// A grant-permission request without a permission.
    public static let permissionNotGiven = AuthError(.permissionNotGiven)
    public static let notEnabled = AuthError(.notEnabled)
    /// An unknown, expired or invalidated token.
    public static let invalidToken = AuthError(.invalidToken)
    /// Deleting the root user or role, or revoking root from root, while auth is enabled.
    public static let invalidManagement = AuthError(.invalidManagement)
    /// The request's token was issued at an auth revision older than the store's.
    public static let oldRevision = AuthError(.oldRevision)
    /// A password containing a NUL character, which bcrypt through C cannot hash faithfully.
    public static let invalidPassword = AuthError(.invalidPassword)
    /// A change asked of a backend whose users and roles cannot be changed over the bus; `detail` says
    /// where they come from (the file's path).
    public static func readOnly(_ detail: String) -> AuthError { AuthError(.readOnly, detail: detail) }
    /// Authenticate with `--auth-token jwt` given a public key only: tokens can be verified, not issued.
    public static let verifyOnly = AuthError(.verifyOnly)
    public static func tokenSigningFailed(_ detail: String) -> AuthError { AuthError(.tokenSigningFailed, detail: detail) }
    public static func passwordHashFailed(_ detail: String) -> AuthError { AuthError(.passwordHashFailed, detail: detail) }
    /// The storage engine failed; the change was not applied.
    public static func storageFailure(_ detail: String) -> AuthError { AuthError(.storageFailure, detail: detail) }
    /// A stored auth record could not be decoded.
    public static func corrupt(_ detail: String) -> AuthError { AuthError(.corrupt, detail: detail) }

    /// The stable identifier sent over the bus.
    public var code: String { kind.rawValue }

    /// Every code this type can carry, for tables that must cover them all (the gateway's mapping).
    public static var allCodes: [String] { Kind.allCases.map(\.rawValue) }

    public var description: String { detail.isEmpty ? code : "\(code): \(detail)" }

    public static func == (lhs: AuthError, rhs: AuthError) -> Bool { lhs.kind == rhs.kind }
    public func hash(into hasher: inout Hasher) { hasher.combine(kind) }
}
