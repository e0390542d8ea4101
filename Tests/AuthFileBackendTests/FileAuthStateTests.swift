import Auth
import AuthFileBackend
import Foundation
import Logging
import Testing

@Suite("The file backend's state")
struct FileAuthStateTests {
    static let hash = AuthFileTests.hash

    static func json(enabled: Bool = true, aliceRoles: String = "\"reader\"", withBob: Bool = true, aliceHash: String = hash) -> String {
        """
        { "enabled": \(enabled),
          "users": [ { "name": "root", "password_hash": "\(hash)", "roles": ["root"] },
                     { "name": "alice", "password_hash": "\(aliceHash)", "roles": [\(aliceRoles)] }
                     \(withBob ? ", { \"name\": \"bob\", \"password_hash\": \"\(hash)\", \"roles\": [] }" : "") ],
          "roles": [ { "name": "reader", "permissions": [ { "type": "READ", "key": "a", "range_end": "b" } ] } ] }
        """
    }

    /// A state over a file in a fresh directory.
    static func state(_ contents: String) throws -> (FileAuthState, path: String) {
        let directory = NSTemporaryDirectory() + "file-state-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/auth.json"
        try contents.write(toFile: path, atomically: true, encoding: .utf8)
        return (try FileAuthState(path: path, tokenProvider: SimpleTokenProvider(), logger: Logger(label: "test")), path)
    }

    @Test("answers from the file at revision 1: users, roles, merged permissions, roles that do not exist ignored")
    func answers() throws {
        let (state, _) = try Self.state(Self.json(aliceRoles: "\"reader\", \"ghost\""))
        #expect(state.revision == 1 && state.isEnabled)
        #expect(state.userNames == ["alice", "bob", "root"])
        #expect(state.roleNames == ["reader"])
        #expect(try state.user(named: "alice").roles == ["ghost", "reader"])
        #expect(throws: AuthError.userNotFound) { try state.user(named: "carol") }
        #expect(throws: AuthError.roleNotFound) { try state.role(named: "ghost") }
        let merged = try #require(state.permissionTable.mergedPermissions(of: "alice"))
        #expect(merged.read == [KeyRange(key: Array("a".utf8), rangeEnd: Array("b".utf8))] && merged.write.isEmpty)
        #expect(state.permissionTable.isAdmin("root") && !state.permissionTable.isAdmin("alice"))
    }

    @Test("a token is issued at the current revision and resolves; a stale check gets auth.old_revision")
    func tokens() throws {
        let (state, _) = try Self.state(Self.json())
        let token = try state.issueToken(name: "alice", checkedRevision: 1, now: .now)
        #expect(try state.authInfo(token: token, now: .now) == AuthInfo(user: "alice", revision: 1))
        #expect(throws: AuthError.oldRevision) { try state.issueToken(name: "alice", checkedRevision: 0, now: .now) }
        #expect(throws: AuthError.invalidToken) { try state.authInfo(token: "nope", now: .now) }
        #expect(try state.authInfo(token: nil, now: .now) == nil)
    }

    @Test("a changed file raises the revision by one; an unchanged meaning or a broken edit does not")
    func reload() throws {
        let (state, path) = try Self.state(Self.json())
        let root = try state.issueToken(name: "root", checkedRevision: 1, now: .now)
        let alice = try state.issueToken(name: "alice", checkedRevision: 1, now: .now)
        let bob = try state.issueToken(name: "bob", checkedRevision: 1, now: .now)

        try (Self.json() + "\n\n").write(toFile: path, atomically: true, encoding: .utf8)
        state.refresh(now: .now)
        #expect(state.revision == 1, "same users and roles: nothing changed")

        try "{ broken".write(toFile: path, atomically: true, encoding: .utf8)
        state.refresh(now: .now)
        #expect(state.revision == 1 && state.userNames == ["alice", "bob", "root"])

        let otherHash = "$2b$04$JPv3sSMDjs.kaRA2xJg9C.Of1eO4xbiJSD8JAvbG3ywAOi2SfSgLe"
        try Self.json(withBob: false, aliceHash: otherHash).write(toFile: path, atomically: true, encoding: .utf8)
        state.refresh(now: .now)
        #expect(state.revision == 2 && state.userNames == ["alice", "root"])
        #expect(throws: AuthError.invalidToken) { try state.authInfo(token: bob, now: .now) }
        #expect(throws: AuthError.invalidToken) { try state.authInfo(token: alice, now: .now) }
        #expect(try state.authInfo(token: root, now: .now) == AuthInfo(user: "root", revision: 2))

        try Self.json(enabled: false, withBob: false, aliceHash: otherHash).write(toFile: path, atomically: true, encoding: .utf8)
        state.refresh(now: .now)
        #expect(state.revision == 3 && !state.isEnabled)
        #expect(throws: AuthError.invalidToken) { try state.authInfo(token: root, now: .now) }
        #expect(throws: AuthError.notEnabled) { try state.issueToken(name: "root", checkedRevision: 3, now: .now) }
    }

    @Test("a file that cannot be read or parsed at start is refused")
    func unusableAtStart() {
        #expect(throws: AuthFileProblem.self) {
            try FileAuthState(path: "/nonexistent/auth.json", tokenProvider: SimpleTokenProvider(), logger: Logger(label: "test"))
        }
        #expect(throws: AuthFileProblem.self) { try Self.state("{\"users\": 3}") }
    }
}
