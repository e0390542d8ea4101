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
    static func json(enabled: Bool = true, users: [FixtureUser] = users, roles: [FixtureRole] = roles) -> String {
        func string(_ text: String) -> String {
            var quoted = "\""
            for scalar in text.unicodeScalars {
                switch scalar {
                case "\"": quoted += "\\\""
                case "\\": quoted += "\\\\"
                case _ where scalar.value < 0x20: quoted += String(format: "\\u%04x", scalar.value)
                default: quoted.unicodeScalars.append(scalar)
                }
            }
            return quoted + "\""
        }
        func bytes(_ bytes: [UInt8]) -> String { string(String(decoding: bytes, as: UTF8.self)) }
        let typeNames: [PermissionType: String] = [.read: "READ", .write: "WRITE", .readWrite: "READWRITE"]
        let userLines = users.map { user in
            let secret = user.hash.map { "\"password_hash\": \(string($0))" } ?? "\"no_password\": true"
            return "    { \"name\": \(string(user.name)), \(secret), \"roles\": [\(user.roles.map(string).joined(separator: ", "))] }"
        }
        let roleLines = roles.map { role in
            let permissions = role.permissions.map { permission in
                let end = permission.rangeEnd.isEmpty ? "" : ", \"range_end\": \(bytes(permission.rangeEnd))"
                return "\n        { \"type\": \"\(typeNames[permission.type]!)\", \"key\": \(bytes(permission.key))\(end) }"
            }
            return "    { \"name\": \(string(role.name)), \"permissions\": [\(permissions.joined(separator: ","))] }"
        }
        return """
            {
              "enabled": \(enabled),
              "users": [
            \(userLines.joined(separator: ",\n"))
              ],
              "roles": [
            \(roleLines.joined(separator: ",\n"))
              ]
            }

            """
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
