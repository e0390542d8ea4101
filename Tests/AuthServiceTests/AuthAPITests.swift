import EtceteraAPI
import Foundation
import Testing

@Suite("The auth service's Auth API over the bus", .serialized)
struct AuthAPITests {
    @Test("users, roles, permissions, enable, authenticate, resolve, snapshot, password change, delete, disable")
    func fullSequence() async throws {
        let auth = try RunningAuthServer()
        let fresh = try await auth.permissions()
        #expect(!fresh.enabled && fresh.revision == 1 && fresh.users.isEmpty)

        let added = try await auth.succeed { $0.userAdd = .with { $0.name = "root"; $0.password = "rootpw" } }
        #expect(added.authRevision == 2)
        guard case .userAdd(let userAdd) = added.reply else { Issue.record("\(added)"); return await auth.stop() }
        #expect(userAdd.header.revision == 0, "the gateway fills the header")
        try await auth.succeed { $0.userGrantRole = .with { $0.user = "root"; $0.role = "root" } }
        try await auth.succeed { $0.roleAdd.name = "r1" }
        try await auth.succeed {
            $0.roleGrantPermission = .with {
                $0.name = "r1"
                $0.perm = .with { $0.permType = .readwrite; $0.key = Data("a/".utf8); $0.rangeEnd = Data("a0".utf8) }
            }
        }
        try await auth.succeed {
            $0.roleGrantPermission = .with { $0.name = "r1"; $0.perm = .with { $0.permType = .read; $0.key = Data("z".utf8) } }
        }
        try await auth.succeed { $0.userAdd = .with { $0.name = "alice"; $0.password = "pw-a" } }
        try await auth.succeed { $0.userGrantRole = .with { $0.user = "alice"; $0.role = "r1" } }

        let userGet = try await auth.succeed { $0.userGet.name = "alice" }
        #expect(userGet.reply == .userGet(.with { $0.roles = ["r1"] }))
        let userList = try await auth.succeed { $0.userList = .init() }
        #expect(userList.reply == .userList(.with { $0.users = ["alice", "root"] }))
        let roleList = try await auth.succeed { $0.roleList = .init() }
        #expect(roleList.reply == .roleList(.with { $0.roles = ["r1"] }))
        let roleGet = try await auth.succeed { $0.roleGet.role = "r1" }
        guard case .roleGet(let role) = roleGet.reply else { Issue.record("\(roleGet)"); return await auth.stop() }
        #expect(role.perm.map { "\($0.permType) \(String(decoding: $0.key, as: UTF8.self)) \(String(decoding: $0.rangeEnd, as: UTF8.self))" }
            == ["readwrite a/ a0", "read z "])

        let enabled = try await auth.succeed { $0.authEnable = .init() }
        let enabledRevision = enabled.authRevision
        #expect(enabledRevision == 9)

        let token = try await auth.token("alice", "pw-a")
        #expect(token.count > 17 && token.contains("."))
        let resolved = try await auth.resolve(token)
        #expect(resolved.reply == .resolveToken(.with { $0.user = "alice"; $0.authRevision = enabledRevision }))

        let snapshot = try await auth.permissions()
        #expect(snapshot.enabled && snapshot.revision == enabledRevision)
        #expect(snapshot.users.map(\.name) == ["alice", "root"])
        let alice = try #require(snapshot.users.first)
        #expect(!alice.isRoot && alice.roles == ["r1"])
        #expect(alice.read.map(Self.show) == ["[a/, a0)", "[z, z\0)"])
        #expect(alice.write.map(Self.show) == ["[a/, a0)"])
        #expect(snapshot.users.last?.isRoot == true && snapshot.users.last?.roles == ["root"])

        let rootToken = try await auth.token("root", "rootpw")
        try await auth.succeed { $0.userChangePassword = .with { $0.name = "alice"; $0.password = "pw-a2" } }
        #expect(try await auth.resolve(token).error.code == "auth.invalid_token", "a password change ends the user's tokens")
        #expect(try await auth.resolve(rootToken).reply == .resolveToken(.with { $0.user = "root"; $0.authRevision = enabledRevision + 1 }))
        #expect(try await auth.authenticate("alice", "pw-a").error.code == "auth.failed")
        let newToken = try await auth.token("alice", "pw-a2")

        try await auth.succeed { $0.userDelete.name = "alice" }
        #expect(try await auth.resolve(newToken).error.code == "auth.invalid_token", "deleting a user ends its tokens")
        #expect(try await auth.permissions().users.map(\.name) == ["root"])

        let disabled = try await auth.succeed { $0.authDisable = .init() }
        #expect(disabled.authRevision == enabledRevision + 3)
        #expect(try await auth.resolve(rootToken).error.code == "auth.invalid_token", "disabling ends every token")
        let after = try await auth.permissions()
        #expect(!after.enabled && after.revision == enabledRevision + 3)
        #expect(try await auth.authenticate("root", "rootpw").error.code == "auth.not_enabled")
        await auth.stop()
    }

    @Test("refusals come back as AuthError codes, with the revision unchanged")
    func errors() async throws {
        let auth = try RunningAuthServer()
        #expect(try await auth.errorCode { $0.authEnable = .init() } == "auth.root_user_not_exist")
        try await auth.succeed { $0.userAdd = .with { $0.name = "root"; $0.password = "rootpw" } }
        #expect(try await auth.errorCode { $0.authEnable = .init() } == "auth.root_role_not_exist")
        #expect(try await auth.errorCode { $0.userAdd = .with { $0.name = "root"; $0.password = "x" } } == "auth.user_already_exists")
        #expect(try await auth.errorCode { $0.userAdd = .with { $0.name = ""; $0.password = "x" } } == "auth.user_empty")
        #expect(try await auth.errorCode { $0.userAdd = .with { $0.name = "nul"; $0.password = "a\0b" } } == "auth.invalid_password")
        #expect(try await auth.errorCode { $0.userGet.name = "nosuch" } == "auth.user_not_found")
        #expect(try await auth.errorCode { $0.userDelete.name = "nosuch" } == "auth.user_not_found")
        #expect(try await auth.errorCode { $0.userChangePassword = .with { $0.name = "nosuch"; $0.password = "x" } } == "auth.user_not_found")
        #expect(try await auth.errorCode { $0.userGrantRole = .with { $0.user = "root"; $0.role = "nosuch" } } == "auth.role_not_found")
        #expect(try await auth.errorCode { $0.userRevokeRole = .with { $0.name = "root"; $0.role = "r" } } == "auth.role_not_granted")
        #expect(try await auth.errorCode { $0.roleAdd.name = "" } == "auth.role_empty")
        try await auth.succeed { $0.roleAdd.name = "r" }
        #expect(try await auth.errorCode { $0.roleAdd.name = "r" } == "auth.role_already_exists")
        #expect(try await auth.errorCode { $0.roleGet.role = "nosuch" } == "auth.role_not_found")
        #expect(try await auth.errorCode { $0.roleDelete.role = "nosuch" } == "auth.role_not_found")
        #expect(try await auth.errorCode { $0.roleGrantPermission.name = "r" } == "auth.permission_not_given")
        #expect(try await auth.errorCode {
            $0.roleRevokePermission = .with { $0.role = "r"; $0.key = Data("k".utf8) }
        } == "auth.permission_not_granted")
        #expect(try await auth.errorCode { $0.authenticate = .with { $0.name = "root"; $0.password = "rootpw" } } == "auth.not_enabled")
        #expect(try await auth.errorCode { $0.resolveToken.token = "" } == "auth.invalid_token")

        try await auth.succeed { $0.userAdd = .with { $0.name = "nopw"; $0.options.noPassword = true } }
        try await auth.succeed { $0.userGrantRole = .with { $0.user = "root"; $0.role = "root" } }
        try await auth.succeed { $0.authEnable = .init() }
        let revision = try await auth.permissions().revision
        #expect(try await auth.errorCode { $0.authenticate = .with { $0.name = "root"; $0.password = "wrong" } } == "auth.failed")
        #expect(try await auth.errorCode { $0.authenticate = .with { $0.name = "nosuch"; $0.password = "x" } } == "auth.failed")
        #expect(try await auth.errorCode { $0.authenticate = .with { $0.name = "nopw"; $0.password = "" } } == "auth.no_password_user")
        #expect(try await auth.errorCode { $0.resolveToken.token = "abcdefghijklmnop.1" } == "auth.invalid_token")
        #expect(try await auth.errorCode { $0.userDelete.name = "root" } == "auth.invalid_management")
        #expect(try await auth.errorCode { $0.userRevokeRole = .with { $0.name = "root"; $0.role = "root" } } == "auth.invalid_management")
        let refused = try await auth.request { $0.roleDelete.role = "root" }
        #expect(refused.error.code == "auth.invalid_management" && refused.authRevision == revision)
        #expect(try await auth.permissions().revision == revision, "refusals change nothing")

        let garbage = try await auth.send([0xFF, 0xFF, 0xFF])
        #expect(garbage.error.code == "bus.malformed_request")
        await auth.stop()
    }

    @Test("users, roles, permissions, the revision and simple tokens survive a restart; the instance does not")
    func restart() async throws {
        let first = try RunningAuthServer(heartbeatInterval: .milliseconds(50))
        try await first.enableWithRoot()
        let token = try await first.token("root", "rootpw")
        let revision = try await first.permissions().revision
        let firstInstance = try #require(await first.event()).instance
        await first.stop(removeDirectory: false)

        let second = try RunningAuthServer(directory: first.directory, heartbeatInterval: .milliseconds(50))
        let snapshot = try await second.permissions()
        #expect(snapshot.enabled && snapshot.revision == revision && snapshot.users.map(\.name) == ["root"])
        let resolved = try await second.resolve(token)
        guard case .resolveToken(let identity) = resolved.reply else {
            Issue.record("the token from before the restart resolves: \(resolved)")
            return await second.stop()
        }
        #expect(identity.user == "root" && identity.authRevision == revision)
        #expect(try await second.token("root", "rootpw").isEmpty == false)
        let secondInstance = try #require(await second.event()).instance
        #expect(secondInstance != firstInstance)
        await second.stop()
    }

    static func show(_ range: Etcetera_Auth_KeyRange) -> String {
        "[\(String(decoding: range.key, as: UTF8.self)), \(String(decoding: range.rangeEnd, as: UTF8.self)))"
    }
}

extension Etcetera_Auth_AuthReply {
    /// The error, or an empty one.
    var error: Etcetera_Kv_ServiceError {
        if case .error(let error) = reply { return error }
        return .init()
    }
}
