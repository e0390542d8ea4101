import Auth
import Foundation
import Logging

/// The auth state of an auth file: answers as etcetera-auth would with the same users and roles, and
/// follows the file. ``refresh(now:)`` (about once a second) looks at the file's modification time, size and
/// inode; when they moved and the file holds different users, roles or enabled flag, the revision goes up
/// by one, and the tokens of users who were removed or whose password changed end, as a deletion or a
/// password change over the bus ends them. A file that no longer parses is logged and the last good state
/// kept. The revision starts at 1 with each process (the backend's instance id changes with it, so gateways
/// drop what they cached).
public final class FileAuthState: AuthState {
    /// The file's path.
    public let path: String
    public private(set) var revision: UInt64 = 1
    private var file: AuthFile
    private var users: [String: User]
    private var roles: [String: Role]
    private var table: PermissionTable
    private let tokens: any TokenProvider
    private let logger: Logger
    /// The file's stamp when it was last read, good or broken.
    private var stamp: FileStamp?

    /// Reads the file; fails if it cannot be read or breaks a rule of the format.
    /// - Parameter tokenProvider: issues the tokens (``SimpleTokenProvider``, like etcetera-auth).
    public init(path: String, tokenProvider: any TokenProvider, logger: Logger) throws(AuthFileProblem) {
        self.path = path
        self.tokens = tokenProvider
        self.logger = logger
        stamp = FileStamp(path: path)
        file = try AuthFile.read(path: path)
        (users, roles, table) = Self.index(file, revision: revision)
        if file.enabled { tokens.enable() }
    }

    public var isEnabled: Bool { file.enabled }
    public var userNames: [String] { file.users.map(\.name) }
    public var roleNames: [String] { file.roles.map(\.name) }
    public var permissionTable: PermissionTable { table }
    public var tokenVerification: TokenVerification? { tokens.verification }

    public func user(named name: String) throws(AuthError) -> User {
        guard let user = users[name] else { throw .userNotFound }
        return user
    }

    public func role(named name: String) throws(AuthError) -> Role {
        guard let role = roles[name] else { throw .roleNotFound }
        return role
    }

    public func issueToken(name: String, checkedRevision: UInt64, now: ContinuousClock.Instant) throws(AuthError) -> String {
        try tokens.issueToken(for: name, checkedRevision: checkedRevision, state: (isEnabled, revision, users[name] != nil), now: now)
    }

    public func authInfo(token: String?, now: ContinuousClock.Instant) throws(AuthError) -> AuthInfo? {
        try tokens.authInfo(token: token, currentRevision: revision, now: now)
    }

    public func refresh(now: ContinuousClock.Instant) {
        tokens.removeExpired(now: now)
        reloadIfChanged()
    }

    /// Reads the file again if its stamp moved, and takes it in if it is good and different.
    func reloadIfChanged() {
        let current = FileStamp(path: path)
        guard current != stamp else { return }
        stamp = current
        let replacement: AuthFile
        do {
            replacement = try AuthFile.read(path: path)
        } catch {
            logger.error("auth file changed but is unusable; keeping the last good state", metadata: [
                "file": "\(path)", "problem": "\(error)", "auth-revision": "\(revision)",
            ])
            return
        }
        guard replacement != file else { return }
        replace(with: replacement)
        logger.notice("auth file reloaded", metadata: [
            "file": "\(path)", "auth-revision": "\(revision)", "auth-enabled": "\(file.enabled)",
            "users": "\(file.users.count)", "roles": "\(file.roles.count)",
        ])
    }

    private func replace(with replacement: AuthFile) {
        let previousUsers = users
        file = replacement
        revision += 1
        (users, roles, table) = Self.index(file, revision: revision)
        for (name, user) in previousUsers {
            let now = users[name]
            if now == nil || now?.passwordHash != user.passwordHash || now?.noPassword != user.noPassword {
                tokens.invalidate(user: name)
            }
        }
        if file.enabled { tokens.enable() } else { tokens.disable() }
    }

    private static func index(_ file: AuthFile, revision: UInt64) -> ([String: User], [String: Role], PermissionTable) {
        let users = Dictionary(uniqueKeysWithValues: file.users.map { ($0.name, $0) })
        let roles = Dictionary(uniqueKeysWithValues: file.roles.map { ($0.name, $0) })
        return (users, roles, PermissionTable(revision: revision, users: file.users, roles: file.roles))
    }
}

/// What tells a changed file apart without reading it: modification time, size and inode (an editor that
/// saves by renaming gives a new inode). Nil when the file cannot be looked at.
struct FileStamp: Hashable {
    private let modifiedSeconds: Int64
    private let modifiedNanoseconds: Int64
    private let size: Int64
    private let inode: UInt64

    init?(path: String) {
        var status = stat()
        guard stat(path, &status) == 0 else { return nil }
        modifiedSeconds = Int64(status.st_mtim.tv_sec)
        modifiedNanoseconds = Int64(status.st_mtim.tv_nsec)
        size = Int64(status.st_size)
        inode = UInt64(status.st_ino)
    }
}
