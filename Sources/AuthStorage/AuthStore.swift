import Auth
import Storage

/// etcd's auth store without the server around it: users, roles and their permissions, the enabled flag and
/// the auth revision, persisted in their own storage; Authenticate with bcrypt and a token provider; and the
/// permission table calls are decided from (by `AuthPolicy`). Plain Swift and single-threaded: the auth service drives it from
/// one queue and passes the time in, so tests control the clock.
///
/// Every change is one synced write batch that also stores the new auth revision, written before the change
/// is visible, so an acknowledged change survives a crash and a reopened store is where it was. Each change
/// raises the revision by one; unlike etcd, enabling auth raises it too (etcd's AuthEnable keeps it), so a
/// cache keyed by revision alone never misses a change. Operations that change nothing (enabling twice,
/// granting a role already held) leave it alone, as in etcd.
///
/// Simple tokens are kept too (their digest and user, ``KeptTokenDigest``), written when issued, so that a
/// restarted auth service still knows them: gateways and their clients' streams outlive a crash of the auth
/// service, and a token that vanished would make every client authenticate again, in the middle of open
/// watch streams. A kept token comes back with a whole TTL; its record goes when it expires (not synced:
/// a machine crash can bring back a token that expired in its last moments, for one TTL) and, in the same
/// synced batch as the change, when its user is deleted, its password changes or auth is disabled.
///
/// Errors follow etcd 3.4's `auth/store.go`, precondition by precondition and in the same order; see
/// ``AuthError`` for the codes and what the gateway answers for each.
public final class AuthStore: CustomStringConvertible, CustomReflectable {
    public struct Configuration: Sendable {
        /// etcd's `--bcrypt-cost`: values outside 4…31 fall back to 10, as etcd does.
        public var bcryptCost = PasswordHash.defaultCost

        public init() {}

        var effectiveBcryptCost: Int {
            PasswordHash.costs.contains(bcryptCost) ? bcryptCost : PasswordHash.defaultCost
        }
    }

    static let enabledKey = Array("a/enabled".utf8)
    static let revisionKey = Array("a/revision".utf8)
    static let userPrefix = UInt8(ascii: "u")
    static let rolePrefix = UInt8(ascii: "r")
    static let tokenPrefix = UInt8(ascii: "t")

    public let configuration: Configuration
    private let storage: any KeyValueStorage
    private let tokens: any TokenProvider
    private var users: [String: User] = [:]
    private var roles: [String: Role] = [:]
    private var cachedTable: PermissionTable?

    /// Whether auth is enabled: requests then need a token and pass permission checks.
    public private(set) var isEnabled = false
    /// Raised by one by every change; a fresh store starts at 1, as etcd's does.
    public private(set) var revision: UInt64 = 0

    /// Opens the auth state kept in `storage` (an empty storage is a fresh store, auth disabled).
    /// - Parameters:
    ///   - tokenProvider: issues and resolves tokens; ``SimpleTokenProvider`` is etcd's default. The
    ///     tokens kept in `storage` are handed back to it, valid for a TTL from `now`.
    public init(
        storage: any KeyValueStorage, configuration: Configuration = .init(),
        tokenProvider: any TokenProvider = SimpleTokenProvider(), now: ContinuousClock.Instant = .now
    ) throws(AuthError) {
        self.storage = storage
        self.configuration = configuration
        tokens = tokenProvider
        try load()
        if revision == 0 {
            var batch = WriteBatch()
            try commit(&batch)
        }
        if isEnabled { tokens.enable() }
        try restoreKeptTokens(now: now)
    }

    // MARK: Auth enable and disable

    /// Turns auth on. Needs a user named root that holds the root role; does nothing if auth is on.
    public func enable() throws(AuthError) {
        guard !isEnabled else { return }
        guard let root = users[User.rootName] else { throw .rootUserNotExist }
        guard root.hasRootRole else { throw .rootRoleNotExist }
        var batch = WriteBatch()
        batch.put(Self.enabledKey, [1])
        try commit(&batch)
        isEnabled = true
        tokens.enable()
    }

    /// Turns auth off and drops every token; does nothing if auth is off.
    public func disable() throws(AuthError) {
        guard isEnabled else { return }
        var batch = WriteBatch()
        batch.put(Self.enabledKey, [0])
        for (key, _) in try keptTokenRecords() { batch.delete(key) }
        try commit(&batch)
        isEnabled = false
        tokens.disable()
    }

    // MARK: Authenticate

    /// Checks a user's password and returns a new token for it (etcd's CheckPassword then Authenticate).
    /// Unknown users and wrong passwords fail alike with ``AuthError/authFailed``.
    public func authenticate(name: String, password: String, now: ContinuousClock.Instant) throws(AuthError) -> String {
        let checkedRevision = try checkPassword(name: name, password: password)
        return try keep(tokens.assign(user: name, revision: checkedRevision, now: now), of: name)
    }

    /// Verifies a password without issuing a token; returns the auth revision it was checked at. Costs one
    /// bcrypt run (tens of milliseconds at etcd's cost), so a service may run it off its main queue by
    /// reading ``user(named:)`` there instead and calling ``issueToken(name:checkedRevision:now:)`` after.
    public func checkPassword(name: String, password: String) throws(AuthError) -> UInt64 {
        guard isEnabled else { throw .notEnabled }
        guard let user = users[name] else { throw .authFailed }
        guard !user.noPassword, let hash = user.passwordHash else { throw .noPasswordUser }
        guard hash.verify(password) else { throw .authFailed }
        return revision
    }

    /// Issues a token for a user whose password was checked at `checkedRevision`. Fails with
    /// ``AuthError/oldRevision`` if the store changed since (etcd checks again in that case), with
    /// ``AuthError/authFailed`` if the user is gone.
    public func issueToken(name: String, checkedRevision: UInt64, now: ContinuousClock.Instant) throws(AuthError) -> String {
        try keep(tokens.issueToken(for: name, checkedRevision: checkedRevision, state: (isEnabled, revision, users[name] != nil), now: now), of: name)
    }

    /// Who a request's token stands for. No token is not an error here (the permission checks then fail
    /// with ``AuthError/userEmpty`` if auth is on); an unknown, expired or invalidated token is, even while
    /// auth is off, as in etcd. Renews a simple token's TTL.
    public func authInfo(token: String?, now: ContinuousClock.Instant) throws(AuthError) -> AuthInfo? {
        try tokens.authInfo(token: token, currentRevision: revision, now: now)
    }

    /// How tokens can be verified without the store (signed JWTs); nil for simple tokens.
    public var tokenVerification: TokenVerification? { tokens.verification }

    /// Lets the token provider forget expired tokens, and drops their records (call it now and then, e.g.
    /// every second as etcd does). The deletes are not synced: one lost to a machine crash brings a
    /// token back for one TTL at the next start, nothing worse.
    public func removeExpiredTokens(now: ContinuousClock.Instant) {
        let expired = tokens.removeExpired(now: now)
        guard !expired.isEmpty else { return }
        var batch = WriteBatch()
        for digest in expired { batch.delete(Self.tokenKey(digest)) }
        // A served store ends the process on a failed write (FailStop); storage that throws instead
        // leaves the records for the next start to find expired.
        try? storage.write(batch, sync: false)
    }

    // MARK: Users

    /// Adds a user whose password is hashed here with the configured bcrypt cost, or a user without a
    /// password (`noPassword`, etcd's `UserAddOptions`), which can never authenticate with one.
    public func addUser(name: String, password: String, noPassword: Bool = false) throws(AuthError) {
        guard !name.isEmpty else { throw .userEmpty }
        let hash = noPassword ? nil : try PasswordHash.make(password: password, cost: configuration.effectiveBcryptCost)
        try addUser(name: name, passwordHash: hash)
    }

    /// Adds a user with a password already hashed (nil: a no-password user), for callers that hash off the
    /// store's queue.
    public func addUser(name: String, passwordHash: PasswordHash?) throws(AuthError) {
        guard !name.isEmpty else { throw .userEmpty }
        guard users[name] == nil else { throw .userAlreadyExists }
        try put(User(name: name, passwordHash: passwordHash, noPassword: passwordHash == nil))
    }

    /// Deletes a user and invalidates its tokens. The root user cannot be deleted while auth is enabled.
    public func deleteUser(name: String) throws(AuthError) {
        if isEnabled && name == User.rootName { throw .invalidManagement }
        guard users[name] != nil else { throw .userNotFound }
        var batch = WriteBatch()
        batch.delete(Self.userKey(name))
        try deleteKeptTokens(of: name, in: &batch)
        try commit(&batch)
        users[name] = nil
        tokens.invalidate(user: name)
    }

    /// Sets a new password (hashed here) and invalidates the user's tokens. Roles and the no-password
    /// option stay as they were.
    public func changePassword(name: String, password: String) throws(AuthError) {
        let hash = try PasswordHash.make(password: password, cost: configuration.effectiveBcryptCost)
        try changePassword(name: name, passwordHash: hash)
    }

    /// ``changePassword(name:password:)`` with a password already hashed.
    public func changePassword(name: String, passwordHash: PasswordHash) throws(AuthError) {
        guard var user = users[name] else { throw .userNotFound }
        user.passwordHash = passwordHash
        var batch = WriteBatch()
        try deleteKeptTokens(of: name, in: &batch)
        try put(user, with: &batch)
        tokens.invalidate(user: name)
    }

    /// Grants a role to a user. The role must exist unless it is root (etcd lets root be granted without a
    /// role object). Granting a role already held succeeds and changes nothing.
    public func grantRole(_ role: String, to name: String) throws(AuthError) {
        guard var user = users[name] else { throw .userNotFound }
        if role != Role.rootName, roles[role] == nil { throw .roleNotFound }
        let index = Self.insertionIndex(of: role, in: user.roles)
        guard index == user.roles.count || user.roles[index] != role else { return }
        user.roles.insert(role, at: index)
        try put(user)
    }

    /// Revokes a role from a user. Root cannot lose the root role while auth is enabled.
    public func revokeRole(_ role: String, from name: String) throws(AuthError) {
        if isEnabled && name == User.rootName && role == Role.rootName { throw .invalidManagement }
        guard var user = users[name] else { throw .userNotFound }
        guard let index = user.roles.firstIndex(of: role) else { throw .roleNotGranted }
        user.roles.remove(at: index)
        try put(user)
    }

    /// UserGet: the user with its roles (sorted).
    public func user(named name: String) throws(AuthError) -> User {
        guard let user = users[name] else { throw .userNotFound }
        return user
    }

    /// UserList: every user name, in byte order.
    public var userNames: [String] { Self.byteOrdered(users.keys) }

    // MARK: Roles

    /// Adds a role without permissions. `root` is an ordinary name here; its permissions are never consulted.
    public func addRole(name: String) throws(AuthError) {
        guard !name.isEmpty else { throw .roleEmpty }
        guard roles[name] == nil else { throw .roleAlreadyExists }
        try put(Role(name: name))
    }

    /// Deletes a role and takes it from every user that has it, in one write. The root role cannot be
    /// deleted while auth is enabled.
    public func deleteRole(name: String) throws(AuthError) {
        if isEnabled && name == Role.rootName { throw .invalidManagement }
        guard roles[name] != nil else { throw .roleNotFound }
        var batch = WriteBatch()
        batch.delete(Self.roleKey(name))
        var changedUsers: [User] = []
        for var user in users.values {
            guard let index = user.roles.firstIndex(of: name) else { continue }
            user.roles.remove(at: index)
            batch.put(Self.userKey(user.name), RecordCodec.encode(user))
            changedUsers.append(user)
        }
        try commit(&batch)
        roles[name] = nil
        for user in changedUsers { users[user.name] = user }
    }

    /// Grants a permission to a role, or changes the type of one it has, exactly as etcd does: the first
    /// permission whose key is at or after the new one is updated if its key and range end are the same;
    /// otherwise the permission is added after those with a key up to its own. (So `(a, b)` granted while
    /// `(a, "")` comes first is added a second time; revoking `(a, b)` removes both.) Each grant raises the
    /// revision, even one that changes nothing.
    public func grantPermission(_ permission: Permission, to name: String) throws(AuthError) {
        guard var role = roles[name] else { throw .roleNotFound }
        let first = role.permissions.partitioningIndex { !$0.key.lexicographicallyPrecedes(permission.key) }
        if first < role.permissions.count, role.permissions[first].key == permission.key,
           role.permissions[first].rangeEnd == permission.rangeEnd {
            role.permissions[first].type = permission.type
        } else {
            let after = role.permissions.partitioningIndex { permission.key.lexicographicallyPrecedes($0.key) }
            role.permissions.insert(permission, at: after)
        }
        try put(role)
    }

    /// Revokes every permission of the role on exactly `key` and `rangeEnd`, whatever its type.
    public func revokePermission(key: [UInt8], rangeEnd: [UInt8], from name: String) throws(AuthError) {
        guard var role = roles[name] else { throw .roleNotFound }
        let kept = role.permissions.filter { $0.key != key || $0.rangeEnd != rangeEnd }
        guard kept.count < role.permissions.count else { throw .permissionNotGranted }
        role.permissions = kept
        try put(role)
    }

    /// RoleGet: the role with its permissions (sorted by key).
    public func role(named name: String) throws(AuthError) -> Role {
        guard let role = roles[name] else { throw .roleNotFound }
        return role
    }

    /// RoleList: every role name, in byte order.
    public var roleNames: [String] { Self.byteOrdered(roles.keys) }

    // MARK: Permission table

    /// The permissions of every user at the current revision, rebuilt only after a change.
    public var permissionTable: PermissionTable {
        if let cachedTable, cachedTable.revision == revision { return cachedTable }
        let table = PermissionTable(revision: revision, users: users.values, roles: roles.values)
        cachedTable = table
        return table
    }

    public var description: String {
        "AuthStore(\(isEnabled ? "enabled" : "disabled"), revision \(revision), \(users.count) users, \(roles.count) roles)"
    }

    public var customMirror: Mirror {
        Mirror(self, children: ["isEnabled": isEnabled, "revision": revision, "users": userNames, "roles": roleNames])
    }

    // MARK: Persistence

    private func load() throws(AuthError) {
        let snapshot = storage.snapshot()
        do {
            if let flag = try snapshot.get(Self.enabledKey) { isEnabled = flag == [1] }
            if let stored = try snapshot.get(Self.revisionKey) { revision = try RecordCodec.decodeRevision(stored) }
        } catch let error as AuthError {
            throw error
        } catch {
            throw .storageFailure("\(error)")
        }
        try Self.forEachRecord(withPrefix: Self.rolePrefix, in: snapshot) { _, value throws(AuthError) in
            let role = try RecordCodec.decodeRole(value)
            roles[role.name] = role
        }
        try Self.forEachRecord(withPrefix: Self.userPrefix, in: snapshot) { _, value throws(AuthError) in
            let user = try RecordCodec.decodeUser(value)
            users[user.name] = user
        }
    }

    /// Calls `body` with the key and value of every record in `snapshot` whose key starts with `prefix`,
    /// in key order.
    private static func forEachRecord(
        withPrefix prefix: UInt8, in snapshot: any StorageSnapshot, _ body: ([UInt8], [UInt8]) throws(AuthError) -> Void
    ) throws(AuthError) {
        let cursor = snapshot.makeCursor()
        cursor.seek([prefix])
        while cursor.isValid, cursor.key.first == prefix {
            try body(cursor.key, cursor.value)
            cursor.next()
        }
        do {
            try cursor.checkError()
        } catch {
            throw .storageFailure("\(error)")
        }
    }

    private func put(_ user: User) throws(AuthError) {
        var batch = WriteBatch()
        try put(user, with: &batch)
    }

    /// Writes `user` in `batch`, with what the batch holds already, and takes the change in.
    private func put(_ user: User, with batch: inout WriteBatch) throws(AuthError) {
        batch.put(Self.userKey(user.name), RecordCodec.encode(user))
        try commit(&batch)
        users[user.name] = user
    }

    // MARK: Kept tokens

    /// Records a token just issued for `user`, synced before it is handed out, and returns it; if the
    /// record cannot be written the token is forgotten and Authenticate fails. Tokens nobody needs to keep
    /// (JWTs) pass through.
    private func keep(_ token: String, of user: String) throws(AuthError) -> String {
        guard let digest = tokens.keptDigest(of: token) else { return token }
        var batch = WriteBatch()
        batch.put(Self.tokenKey(digest), Array(user.utf8))
        do {
            try write(batch, sync: true)
        } catch {
            tokens.forget(token: token)
            throw error
        }
        return token
    }

    /// Hands the kept tokens back to the provider at open; records that cannot stand any more (auth off,
    /// a user gone, a malformed record) are deleted instead.
    private func restoreKeptTokens(now: ContinuousClock.Instant) throws(AuthError) {
        var stale = WriteBatch()
        for (key, user) in try keptTokenRecords() {
            if isEnabled, users[user] != nil, let digest = KeptTokenDigest(bytes: Array(key.dropFirst())) {
                tokens.restore(digest: digest, user: user, now: now)
            } else {
                stale.delete(key)
            }
        }
        if !stale.isEmpty { try write(stale, sync: false) }
    }

    /// Adds to `batch` the deletes of every token kept for `user`.
    private func deleteKeptTokens(of user: String, in batch: inout WriteBatch) throws(AuthError) {
        for (key, owner) in try keptTokenRecords() where owner == user { batch.delete(key) }
    }

    /// Every kept token's record: its key and its user. As many as there are live tokens.
    private func keptTokenRecords() throws(AuthError) -> [(key: [UInt8], user: String)] {
        var records: [(key: [UInt8], user: String)] = []
        try Self.forEachRecord(withPrefix: Self.tokenPrefix, in: storage.snapshot()) { key, value throws(AuthError) in
            records.append((key, String(decoding: value, as: UTF8.self)))
        }
        return records
    }

    private func put(_ role: Role) throws(AuthError) {
        var batch = WriteBatch()
        batch.put(Self.roleKey(role.name), RecordCodec.encode(role))
        try commit(&batch)
        roles[role.name] = role
    }

    /// Writes the batch with the next revision, synced; the revision moves only once the write succeeded.
    private func commit(_ batch: inout WriteBatch) throws(AuthError) {
        let next = revision + 1
        batch.put(Self.revisionKey, RecordCodec.encode(revision: next))
        try write(batch, sync: true)
        revision = next
    }

    /// Writes `batch`, a storage failure reported as ``AuthError/storageFailure(_:)``.
    private func write(_ batch: WriteBatch, sync: Bool) throws(AuthError) {
        do {
            try storage.write(batch, sync: sync)
        } catch {
            throw .storageFailure("\(error)")
        }
    }

    static func userKey(_ name: String) -> [UInt8] { [userPrefix] + Array(name.utf8) }
    static func roleKey(_ name: String) -> [UInt8] { [rolePrefix] + Array(name.utf8) }
    static func tokenKey(_ digest: KeptTokenDigest) -> [UInt8] { [tokenPrefix] + digest.bytes }

    private static func byteOrdered(_ names: some Sequence<String>) -> [String] {
        names.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
    }

    /// Where `name` belongs in a byte-ordered list.
    private static func insertionIndex(of name: String, in sorted: [String]) -> Int {
        let bytes = Array(name.utf8)
        return sorted.partitioningIndex { !Array($0.utf8).lexicographicallyPrecedes(bytes) }
    }
}

extension Array {
    /// The first index whose element satisfies `predicate`, for a predicate that is false for a prefix of the
    /// array and true for the rest (a binary search).
    func partitioningIndex(where predicate: (Element) -> Bool) -> Int {
        var low = 0
        var high = count
        while low < high {
            let middle = (low + high) / 2
            if predicate(self[middle]) { high = middle } else { low = middle + 1 }
        }
        return low
    }
}
