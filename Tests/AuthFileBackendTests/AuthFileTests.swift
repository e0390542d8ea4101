import Auth
import AuthFileBackend
import Foundation
import Testing

@Suite("The auth file format")
struct AuthFileTests {
    static let hash = "$2b$04$8y7Yka57QgwMUzoVWnbKeuZIEED7blQtMMXMywi67QcSbeXepZDle"

    @Test("the documented example parses: users and roles sorted, permissions by key, range ends as etcd writes them")
    func example() throws {
        let file = try AuthFile(json: Data("""
            {
              "enabled": true,
              "users": [
                { "name": "root",  "password_hash": "\(Self.hash)", "roles": ["root"] },
                { "name": "alice", "password_hash": "\(Self.hash)", "roles": ["writer", "reader", "writer"] },
                { "name": "svc",   "no_password": true,           "roles": ["reader"] }
              ],
              "roles": [
                { "name": "writer", "permissions": [] },
                { "name": "reader", "permissions": [
                    { "type": "WRITE",     "key": "logs/", "range_end": "\\u0000" },
                    { "type": "READ",      "key": "/app/", "range_end": "/app0" },
                    { "type": "READWRITE", "key": "config" } ] }
              ]
            }
            """.utf8))
        #expect(file.enabled)
        #expect(file.users.map(\.name) == ["alice", "root", "svc"])
        #expect(file.users[0].roles == ["reader", "writer"])
        #expect(file.users[0].passwordHash?.encoded == Self.hash && !file.users[0].noPassword)
        #expect(file.users[2].passwordHash == nil && file.users[2].noPassword)
        #expect(file.roles.map(\.name) == ["reader", "writer"])
        #expect(file.roles[0].permissions == [
            Permission(.read, key: Array("/app/".utf8), rangeEnd: Array("/app0".utf8)),
            Permission(.readWrite, key: Array("config".utf8)),
            Permission(.write, key: Array("logs/".utf8), rangeEnd: [0]),
        ])
    }

    @Test("an empty object is auth off with nobody; enabled defaults to false")
    func empty() throws {
        let file = try AuthFile(json: Data("{}".utf8))
        #expect(!file.enabled && file.users.isEmpty && file.roles.isEmpty)
    }

    @Test("each broken rule is refused with where and what", arguments: [
        ("[1, 2]", "expected an object"),
        ("{\"enabled\": 1}", "enabled: expected true or false"),
        ("{\"enable\": true}", "enable: unknown key"),
        ("{\"users\": [{\"name\": \"\", \"no_password\": true}]}", "users[0].name: must not be empty"),
        ("{\"users\": [{\"name\": \"a\"}]}", "needs exactly one of password_hash"),
        ("{\"users\": [{\"name\": \"a\", \"no_password\": true, \"password_hash\": \"\(hash)\"}]}", "needs exactly one of password_hash"),
        ("{\"users\": [{\"name\": \"a\", \"password_hash\": \"$1$abc\"}]}", "users[0].password_hash: not a bcrypt hash"),
        ("{\"users\": [{\"name\": \"a\", \"no_password\": true}, {\"name\": \"a\", \"no_password\": true}]}", "users[1]: a second entry named \"a\""),
        ("{\"users\": [{\"name\": \"a\", \"no_password\": true, \"roles\": \"r\"}]}", "users[0].roles: expected an array"),
        ("{\"roles\": [{\"name\": \"r\"}, {\"name\": \"r\"}]}", "roles[1]: a second entry named \"r\""),
        ("{\"roles\": [{\"name\": \"r\", \"permissions\": [{\"type\": \"read\", \"key\": \"k\"}]}]}", "type: expected READ, WRITE or READWRITE"),
        ("{\"roles\": [{\"name\": \"r\", \"permissions\": [{\"type\": \"READ\", \"key\": \"\"}]}]}", "key: must not be empty"),
        ("{\"roles\": [{\"name\": \"r\", \"permissions\": [{\"type\": \"READ\"}]}]}", "roles[0].permissions[0].key: missing"),
        ("{\"users\": [", "not valid JSON"),
    ])
    func refusals(_ json: String, _ problem: String) {
        #expect(throws: AuthFileProblem.self) { try AuthFile(json: Data(json.utf8)) }
        do {
            _ = try AuthFile(json: Data(json.utf8))
        } catch {
            #expect(error.description.contains(problem), "\(json): \(error)")
            #expect(!error.description.contains("\n"))
        }
    }
}
