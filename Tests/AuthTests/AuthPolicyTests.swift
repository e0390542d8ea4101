import Auth
import Testing

/// The permission decision the gateway makes for every call (``AuthPolicy/decide(_:for:)``), on a table
/// built as the gateway builds its own from the backend's snapshot.
@Suite("Auth policy")
struct AuthPolicyTests {
    /// root; `reader` reads `a` and the prefix `p/`; `writer` writes `b`; `nobody` holds an empty role.
    private static let users = [
        User(name: "root", roles: ["root"], passwordHash: nil, noPassword: true),
        User(name: "reader", roles: ["read-a", "read-p"], passwordHash: nil, noPassword: true),
        User(name: "writer", roles: ["write-b"], passwordHash: nil, noPassword: true),
        User(name: "nobody", roles: ["empty"], passwordHash: nil, noPassword: true),
    ]
    private static let roles = [
        Role(name: "read-a", permissions: [Permission(.read, key: bytes("a"))]),
        Role(name: "read-p", permissions: [.prefix(.read, bytes("p/"))]),
        Role(name: "write-b", permissions: [Permission(.write, key: bytes("b"))]),
        Role(name: "empty"),
    ]
    private static let revision: UInt64 = 7

    private func policy(enabled: Bool = true) -> AuthPolicy {
        let table = PermissionTable(revision: Self.revision, users: Self.users, roles: Self.roles)
        var merged: [String: MergedPermissions] = [:]
        for name in table.userNames { merged[name] = table.mergedPermissions(of: name) }
        let roles = Dictionary(uniqueKeysWithValues: Self.users.map { ($0.name, Set($0.roles)) })
        return AuthPolicy(isEnabled: enabled, table: PermissionTable(revision: Self.revision, merged: merged, roles: roles))
    }

    private func caller(_ user: String, revision: UInt64 = revision) -> AuthInfo { AuthInfo(user: user, revision: revision) }

    @Test("with auth off every call passes, whoever calls")
    func disabled() {
        let policy = policy(enabled: false)
        for requirement in [AuthRequirement.admin, .authenticated, reading(bytes("z")), .everyKey, .adminOrRole("root")] {
            #expect(policy.decide(requirement, for: nil) == .allowed)
            #expect(policy.decide(requirement, for: caller("ghost", revision: 0)) == .allowed)
        }
    }

    @Test("without credentials only a call that needs none passes; an empty user name counts as none")
    func noCaller() {
        let policy = policy()
        #expect(policy.decide(.validTokenIfAny, for: nil) == .allowed)
        for requirement in [AuthRequirement.authenticated, .admin, .adminOrUser(""), .adminOrRole("read-a"), reading(bytes("a"))] {
            #expect(policy.decide(requirement, for: nil) == .refused(.userEmpty))
            #expect(policy.decide(requirement, for: caller("")) == .refused(.userEmpty))
        }
    }

    @Test("key checks: revision 0 is no user, an older token is refused first, then every range must be permitted")
    func keys() {
        let policy = policy()
        #expect(policy.decide(reading(bytes("a")), for: caller("reader")) == .allowed)
        #expect(policy.decide(reading(bytes("p/"), bytes("p0")), for: caller("reader")) == .allowed)
        #expect(policy.decide(.keys([Permission(.read, key: bytes("a")), Permission(.read, key: bytes("p/x"))]), for: caller("reader")) == .allowed)
        #expect(policy.decide(.keys([Permission(.read, key: bytes("a")), Permission(.read, key: bytes("b"))]), for: caller("reader")) == .refused(.permissionDenied))
        #expect(policy.decide(writing(bytes("a")), for: caller("reader")) == .refused(.permissionDenied))
        #expect(policy.decide(writing(bytes("b")), for: caller("writer")) == .allowed)
        #expect(policy.decide(reading(bytes("b")), for: caller("writer")) == .refused(.permissionDenied))
        #expect(policy.decide(reading(bytes("a")), for: caller("nobody")) == .refused(.permissionDenied))
        #expect(policy.decide(reading(bytes("a")), for: caller("ghost")) == .refused(.permissionDenied))
        #expect(policy.decide(reading(bytes("a")), for: caller("reader", revision: 0)) == .refused(.userEmpty))
        #expect(policy.decide(reading(bytes("a")), for: caller("reader", revision: Self.revision - 1)) == .refused(.oldRevision))
        #expect(policy.decide(reading(bytes("zzz")), for: caller("root", revision: Self.revision - 1)) == .refused(.oldRevision))
        #expect(policy.decide(reading(bytes("a")), for: caller("reader", revision: Self.revision + 1)) == .allowed)
    }

    @Test("every key: root, or a user allowed every key for reading and writing, and nobody else")
    func everyKey() {
        let policy = policy()
        #expect(policy.decide(.everyKey, for: caller("root")) == .allowed)
        for user in ["reader", "writer", "nobody", "ghost"] {
            #expect(policy.decide(.everyKey, for: caller(user)) == .refused(.permissionDenied))
        }
        let all = User(name: "all", roles: ["all"], passwordHash: nil, noPassword: true)
        let table = PermissionTable(revision: 1, users: [all], roles: [Role(name: "all", permissions: [Permission(.readWrite, key: [0], rangeEnd: [0])])])
        #expect(AuthPolicy(isEnabled: true, table: table).decide(.everyKey, for: AuthInfo(user: "all", revision: 1)) == .allowed)
    }

    @Test("a known caller passes .authenticated and .validTokenIfAny whatever it holds")
    func authenticated() {
        let policy = policy()
        for user in ["root", "reader", "nobody", "ghost"] {
            #expect(policy.decide(.authenticated, for: caller(user, revision: 1)) == .allowed)
            #expect(policy.decide(.validTokenIfAny, for: caller(user, revision: 1)) == .allowed)
        }
    }

    @Test("admin checks look at no revision; a user that is gone is not found; UserGet and RoleGet let a user see its own")
    func admin() {
        let policy = policy()
        #expect(policy.decide(.admin, for: caller("root", revision: 1)) == .allowed)
        #expect(policy.decide(.admin, for: caller("reader")) == .refused(.permissionDenied))
        #expect(policy.decide(.admin, for: caller("ghost")) == .refused(.userNotFound))
        #expect(policy.decide(.adminOrUser("reader"), for: caller("reader")) == .allowed)
        #expect(policy.decide(.adminOrUser("writer"), for: caller("reader")) == .refused(.permissionDenied))
        #expect(policy.decide(.adminOrUser("writer"), for: caller("root")) == .allowed)
        #expect(policy.decide(.adminOrUser("ghost"), for: caller("ghost")) == .allowed)
        #expect(policy.decide(.adminOrRole("read-p"), for: caller("reader")) == .allowed)
        #expect(policy.decide(.adminOrRole("write-b"), for: caller("reader")) == .refused(.permissionDenied))
        #expect(policy.decide(.adminOrRole("write-b"), for: caller("root")) == .allowed)
        #expect(policy.decide(.adminOrRole("empty"), for: caller("ghost")) == .refused(.userNotFound))
    }
}
