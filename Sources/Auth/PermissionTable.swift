/// Every user's permissions merged as etcd's permission cache merges them, for one auth revision. A check
/// is a dictionary lookup by user name and a binary search; building one costs a pass over all users and
/// their roles, so holders rebuild it only when the auth revision moves (``AuthStore`` does so lazily; the
/// gateway can build its own from users and roles it fetched, and key it by the same revision).
public struct PermissionTable: Sendable {
    struct UserPermissions: Sendable {
        var isRoot: Bool
        var read: KeyIntervalSet
        var write: KeyIntervalSet
    }

    /// The auth revision the users and roles were read at.
    public let revision: UInt64
    private let users: [String: UserPermissions]

    /// Merges the permissions of each user's roles: READWRITE counts as both, roles that do not exist are
    /// skipped, and a user holding the root role is allowed everything.
    public init(revision: UInt64, users: some Sequence<User>, roles: some Sequence<Role>) {
        self.revision = revision
        let rolesByName = Dictionary(roles.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var table: [String: UserPermissions] = [:]
        for user in users {
            var read: [KeyInterval] = []
            var write: [KeyInterval] = []
            for roleName in user.roles {
                guard let role = rolesByName[roleName] else { continue }
                for permission in role.permissions {
                    let interval = KeyInterval(key: permission.key, rangeEnd: permission.rangeEnd)
                    if permission.type.allows(.read) { read.append(interval) }
                    if permission.type.allows(.write) { write.append(interval) }
                }
            }
            table[user.name] = UserPermissions(
                isRoot: user.hasRootRole, read: KeyIntervalSet(read), write: KeyIntervalSet(write))
        }
        self.users = table
    }

    /// Whether the user exists in this table.
    public func contains(user: String) -> Bool { users[user] != nil }

    /// Whether the user holds the root role (etcd's admin); false for an unknown user.
    public func isAdmin(_ user: String) -> Bool { users[user]?.isRoot ?? false }

    /// Whether `user` may perform a `needed` (`.read` or `.write`) operation on the request's keys, as etcd
    /// decides it: root always may; a single key (`rangeEnd` empty) needs one permission holding it; a range
    /// (`rangeEnd` `"\0"` meaning every key from `key` on) must be covered in full by the union of the user's
    /// permissions of that type. An unknown user may do nothing.
    public func isPermitted(user: String, key: [UInt8], rangeEnd: [UInt8], _ needed: PermissionType) -> Bool {
        guard let permissions = users[user] else { return false }
        if permissions.isRoot { return true }
        let set: KeyIntervalSet
        switch needed {
        case .read: set = permissions.read
        case .write: set = permissions.write
        case .readWrite:
            return isPermitted(user: user, key: key, rangeEnd: rangeEnd, .read)
                && isPermitted(user: user, key: key, rangeEnd: rangeEnd, .write)
        }
        if rangeEnd.isEmpty { return set.contains(key: key) }
        return set.covers(KeyInterval(key: key, rangeEnd: rangeEnd))
    }
}
