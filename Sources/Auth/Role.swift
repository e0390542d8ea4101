/// A role of the auth store: etcd's `authpb.Role`.
public struct Role: Sendable, Hashable, CustomStringConvertible {
    public let name: String
    /// Sorted by key, as etcd keeps them and answers RoleGet. The same key and range end can appear twice
    /// (etcd's grant only looks at the first permission with that key; see the auth store's `grantPermission`).
    public package(set) var permissions: [Permission]

    /// The role that bypasses every permission check and allows the admin operations. It may be granted
    /// without a role object of that name; a role object named root may exist, but its permissions are
    /// never read.
    public static let rootName = "root"

    /// A role as another holder of the auth state describes it; permissions are kept in the order given.
    public init(name: String, permissions: [Permission] = []) {
        self.name = name
        self.permissions = permissions
    }

    public var description: String { "Role(\(name.debugDescription), \(permissions))" }
}
