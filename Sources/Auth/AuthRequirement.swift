/// What a call asks of its caller once auth is on: etcd's check for each RPC, named (docs/auth.md lists
/// which call needs which). ``AuthPolicy/decide(_:for:)`` is the one place a requirement is decided.
public enum AuthRequirement: Sendable, Hashable {
    /// Nothing from a caller without credentials. A token that is sent must be valid, which is settled
    /// before any requirement: etcd's calls that go through raft without a check of their own
    /// (Authenticate, Compact, LeaseGrant, Alarm GET, LeaseRevoke of a lease without keys).
    case validTokenIfAny
    /// A known caller: a valid token, or a verified client certificate.
    case authenticated
    /// A known caller holding each permission over its whole range (etcd's `isOpPermitted`, one range at
    /// a time: a single key needs one permission holding it, a range the union of the caller's).
    case keys([Permission])
    /// The root role (etcd's `IsAdminPermitted`).
    case admin
    /// The root role, or being the user named (UserGet).
    case adminOrUser(String)
    /// The root role, or holding the role named (RoleGet).
    case adminOrRole(String)

    /// Every key, for both reading and writing: a caller allowed this passes every key requirement.
    public static let everyKey = AuthRequirement.keys([Permission(.readWrite, key: [0], rangeEnd: [0])])
}
