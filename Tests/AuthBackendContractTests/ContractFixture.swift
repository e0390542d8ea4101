import Auth
import Foundation

/// The users, roles and permissions every backend is tested with: written as an auth file for the file
/// backends, created through the bus for etcetera-auth, so that all of them must give the same answers.
/// Auth is on. alice's hash is written `$2a$` (as etcd's Go bcrypt writes it); the others `$2b$`.
enum ContractFixture {
    struct FixtureUser {
        let name: String
        /// Nil for the no-password user.
        let password: String?
        /// bcrypt cost 4 of `password`, fixed so the file is the same on every run.
        let hash: String?
        let roles: [String]
    }

    struct FixtureRole {
        let name: String
        let permissions: [Permission]
    }

    static let users = [
        FixtureUser(name: "root", password: "rootpw", hash: "$2b$04$8y7Yka57QgwMUzoVWnbKeuZIEED7blQtMMXMywi67QcSbeXepZDle", roles: ["root"]),
        FixtureUser(name: "alice", password: "alicepw", hash: "$2a$04$3dCvf34Or8htxaSIXRZhI.lJMo4BMIYuflBvAOSFI0zUPLTf5zjT2", roles: ["writer", "reader"]),
        FixtureUser(name: "bob", password: "bobpw", hash: "$2b$04$JPv3sSMDjs.kaRA2xJg9C.Of1eO4xbiJSD8JAvbG3ywAOi2SfSgLe", roles: ["writer"]),
        FixtureUser(name: "svc", password: nil, hash: nil, roles: ["reader"]),
    ]

    /// Permissions in key order within each role (RoleGet answers them so).
    static let roles = [
        FixtureRole(name: "reader", permissions: [
            Permission(.read, key: Array("/app/".utf8), rangeEnd: Array("/app0".utf8)),
            Permission(.read, key: Array("/app/x".utf8)),
            Permission(.readWrite, key: Array("config".utf8)),
            Permission(.write, key: Array("logs/".utf8), rangeEnd: [0]),
        ]),
        FixtureRole(name: "writer", permissions: [
            Permission(.write, key: Array("/app/".utf8), rangeEnd: Array("/app0".utf8)),
            Permission(.read, key: Array("a".utf8), rangeEnd: Array("b".utf8)),
            Permission(.read, key: Array("b".utf8), rangeEnd: Array("c".utf8)),
        ]),
    ]

    /// alice's new hash for the file edits ("alicepw2").
    static let aliceSecondHash = "$2b$04$LP60Z3JGlELAZEvFxwQf1.mwybGDWe6e78DdUIwM/CpI6BrtxOZXG"

    /// The auth file, `enabled` and the users and roles given (the fixture's by default).
    static func json(enabled: Bool = true, users: [FixtureUser] = users, roles: [FixtureRole] = roles) throws -> String {
        let typeNames: [PermissionType: String] = [.read: "READ", .write: "WRITE", .readWrite: "READWRITE"]
        let document: [String: Any] = [
            "enabled": enabled,
            "users": users.map { user -> [String: Any] in
                var entry: [String: Any] = ["name": user.name, "roles": user.roles]
                if let hash = user.hash { entry["password_hash"] = hash } else { entry["no_password"] = true }
                return entry
            },
            "roles": roles.map { role -> [String: Any] in
                ["name": role.name, "permissions": role.permissions.map { permission -> [String: Any] in
                    var entry: [String: Any] = ["type": typeNames[permission.type]!, "key": String(decoding: permission.key, as: UTF8.self)]
                    if !permission.rangeEnd.isEmpty { entry["range_end"] = String(decoding: permission.rangeEnd, as: UTF8.self) }
                    return entry
                }]
            },
        ]
        let data = try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    /// The merged permissions of each user as the Auth library computes them for the fixture.
    static func expectedMerge() -> [String: MergedPermissions] {
        let users = users.map { user in
            User(name: user.name, roles: user.roles, passwordHash: user.hash.flatMap(PasswordHash.init(encoded:)), noPassword: user.hash == nil)
        }
        let table = PermissionTable(revision: 1, users: users, roles: roles.map { Role(name: $0.name, permissions: $0.permissions) })
        return Dictionary(uniqueKeysWithValues: users.compactMap { user in table.mergedPermissions(of: user.name).map { (user.name, $0) } })
    }
}
