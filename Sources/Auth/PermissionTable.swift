/// Every user's permissions merged as etcd's permission cache merges them, with the roles each user
/// holds, for one auth revision. A check is a dictionary lookup by user name and a binary search; building
/// one costs a pass over all users and their roles, so holders rebuild it only when the auth revision moves
/// (the auth store does so lazily; the gateway builds its own from the backend's permission snapshot and
/// keys it by the same revision). ``AuthPolicy`` decides calls from it.
public struct PermissionTable: Sendable {
    struct UserPermissions: Sendable {
        var isRoot: Bool
        var roles: Set<String>
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
                isRoot: user.hasRootRole, roles: Set(user.roles), read: KeyIntervalSet(read), write: KeyIntervalSet(write))
        }
        self.users = table
    }

    /// A table from merged permissions, as ``mergedPermissions(of:)`` exports them, and each user's roles
    /// (a gateway rebuilds the auth backend's table from its permission snapshot this way). A user
    /// without an entry in `roles` holds none.
    public init(revision: UInt64, merged: [String: MergedPermissions], roles: [String: Set<String>]) {
        self.revision = revision
        var table = merged.mapValues { permissions in
            UserPermissions(
                isRoot: permissions.isRoot, roles: [],
                read: KeyIntervalSet(permissions.read.map { KeyInterval(key: $0.key, rangeEnd: $0.rangeEnd) }),
                write: KeyIntervalSet(permissions.write.map { KeyInterval(key: $0.key, rangeEnd: $0.rangeEnd) }))
        }
        for (user, held) in roles where table[user] != nil { table[user]?.roles = held }
        users = table
    }

    /// Every user in this table, in byte order of the names.
    public var userNames: [String] {
        users.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
    }

    /// A user's merged permissions as etcd key ranges, nil for a user not in the table.
    public func mergedPermissions(of user: String) -> MergedPermissions? {
        guard let permissions = users[user] else { return nil }
        return MergedPermissions(
            isRoot: permissions.isRoot,
            read: permissions.read.intervals.map(KeyRange.init),
            write: permissions.write.intervals.map(KeyRange.init))
    }

    /// Whether the user exists in this table.
    public func contains(user: String) -> Bool { users[user] != nil }

    /// Whether the user holds the root role (etcd's admin); false for an unknown user.
    public func isAdmin(_ user: String) -> Bool { users[user]?.isRoot ?? false }

    /// Whether the user holds the role named; false for an unknown user.
    public func user(_ user: String, holds role: String) -> Bool { users[user]?.roles.contains(role) ?? false }

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

/// One user's permissions merged: the unions of its roles' READ and WRITE permissions (READWRITE in both),
/// each as sorted, disjoint, non-adjacent ranges. Root is allowed everything whatever the ranges say.
public struct MergedPermissions: Sendable, Hashable {
    public var isRoot: Bool
    public var read: [KeyRange]
    public var write: [KeyRange]

    public init(isRoot: Bool, read: [KeyRange], write: [KeyRange]) {
        self.isRoot = isRoot
        self.read = read
        self.write = write
    }
}

/// The half-open key range `[key, rangeEnd)` in etcd's convention, where `rangeEnd` `"\0"` means every key
/// from `key` on. Merged ranges never have an empty `rangeEnd` (a single key `k` is `[k, k + "\0")`).
public struct KeyRange: Sendable, Hashable, CustomStringConvertible {
    public var key: [UInt8]
    public var rangeEnd: [UInt8]

    public init(key: [UInt8], rangeEnd: [UInt8]) {
        self.key = key
        self.rangeEnd = rangeEnd
    }

    init(_ interval: KeyInterval) {
        // A merged interval is never empty, so it starts at a key, never at +∞.
        if case .key(let begin) = interval.begin { key = begin } else { key = [] }
        if case .key(let end) = interval.end { rangeEnd = end } else { rangeEnd = [0] }
    }

    public var description: String {
        let key = String(decoding: key, as: UTF8.self).debugDescription
        if rangeEnd == [0] { return "[\(key), <open ended>" }
        return "[\(key), \(String(decoding: rangeEnd, as: UTF8.self).debugDescription))"
    }
}
