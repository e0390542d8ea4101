/// A user of the auth store: etcd's `authpb.User`. The password hash stays out of every description.
public struct User: Sendable, Hashable, CustomStringConvertible, CustomReflectable {
    public let name: String
    /// Role names, sorted by bytes (etcd keeps them sorted and answers UserGet in this order).
    public package(set) var roles: [String]
    /// Nil for a user created with `no_password`, and for nobody else.
    public package(set) var passwordHash: PasswordHash?
    /// etcd's `UserAddOptions.no_password`: such a user cannot authenticate with a password (only by a TLS
    /// client certificate), even after a password is set for it.
    public let noPassword: Bool

    /// A user as another holder of the auth state (the gateway's copy, a file-backed backend) describes it.
    /// `roles` are sorted here.
    public init(name: String, roles: [String] = [], passwordHash: PasswordHash?, noPassword: Bool) {
        self.name = name
        self.roles = roles.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        self.passwordHash = passwordHash
        self.noPassword = noPassword
    }

    /// The user that must exist, holding the root role, before auth can be enabled; it cannot be deleted
    /// nor lose the root role while auth is on.
    public static let rootName = "root"

    /// Whether the user holds the root role, which bypasses every permission check.
    public var hasRootRole: Bool { roles.contains(Role.rootName) }

    public var description: String {
        "User(\(name.debugDescription), roles: \(roles), \(noPassword ? "no password" : "password set"))"
    }

    public var customMirror: Mirror {
        Mirror(self, children: ["name": name, "roles": roles, "noPassword": noPassword])
    }
}
