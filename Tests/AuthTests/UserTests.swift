import Auth
import AuthStorage
import Storage
import Testing

@Suite("Users")
struct UserTests {
    @Test("user add: hashed password or none; etcd's errors for an empty name and an existing user")
    func add() throws {
        let store = try makeStore()
        try store.addUser(name: "alice", password: "pw-a")
        try store.addUser(name: "nopw", password: "ignored", noPassword: true)
        let alice = try store.user(named: "alice")
        #expect(alice.roles.isEmpty && !alice.noPassword)
        #expect(alice.passwordHash?.verify("pw-a") == true)
        #expect(alice.passwordHash?.cost == fastCost)
        let nopw = try store.user(named: "nopw")
        #expect(nopw.noPassword && nopw.passwordHash == nil)
        #expect(throws: AuthError.userEmpty) { try store.addUser(name: "", password: "x") }
        #expect(throws: AuthError.userAlreadyExists) { try store.addUser(name: "alice", password: "other") }
        #expect(throws: AuthError.userAlreadyExists) { try store.addUser(name: "nopw", passwordHash: nil) }
        #expect(try store.user(named: "alice").passwordHash?.verify("pw-a") == true, "a refused add changes nothing")
    }

    @Test("passwords are hashed at the configured cost; a cost bcrypt does not accept falls back to etcd's 10")
    func hashCost() throws {
        var configuration = AuthStore.Configuration()
        configuration.bcryptCost = 3
        let store = try AuthStore(storage: InMemoryStorage(), configuration: configuration)
        try store.addUser(name: "u", password: "pw")
        #expect(try store.user(named: "u").passwordHash?.cost == 10)
        try store.changePassword(name: "u", password: "pw2")
        #expect(try store.user(named: "u").passwordHash?.cost == 10)
    }

    @Test("user get and list: unknown user, names in byte order")
    func getAndList() throws {
        let store = try makeStore()
        #expect(store.userNames.isEmpty)
        for name in ["b", "é", "a", "Z", "ab"] { try store.addUser(name: name, password: "x") }
        #expect(store.userNames == ["Z", "a", "ab", "b", "é"])
        #expect(throws: AuthError.userNotFound) { try store.user(named: "nosuch") }
    }

    @Test("user delete: unknown user; root only while auth is disabled")
    func delete() throws {
        let store = try makeEnabledStore()
        try store.addUser(name: "u", password: "x")
        try store.deleteUser(name: "u")
        #expect(throws: AuthError.userNotFound) { try store.user(named: "u") }
        #expect(throws: AuthError.userNotFound) { try store.deleteUser(name: "u") }
        #expect(throws: AuthError.invalidManagement) { try store.deleteUser(name: "root") }
        try store.disable()
        try store.deleteUser(name: "root")
        #expect(store.userNames.isEmpty)
    }

    @Test("password change: unknown user; roles and the no-password option are kept")
    func changePassword() throws {
        let store = try makeEnabledStore()
        try store.addUser(name: "u", password: "old")
        try store.addRole(name: "r")
        try store.grantRole("r", to: "u")
        try store.changePassword(name: "u", password: "new")
        let user = try store.user(named: "u")
        #expect(user.roles == ["r"])
        #expect(user.passwordHash?.verify("new") == true && user.passwordHash?.verify("old") == false)
        #expect(throws: AuthError.userNotFound) { try store.changePassword(name: "nosuch", password: "x") }

        try store.addUser(name: "nopw", password: "", noPassword: true)
        try store.changePassword(name: "nopw", password: "now-set")
        #expect(try store.user(named: "nopw").noPassword, "etcd keeps the option, so the user still cannot log in")
        #expect(throws: AuthError.noPasswordUser) { try store.checkPassword(name: "nopw", password: "now-set") }
    }

    @Test("grant role: unknown user or role; root needs no role object; roles kept sorted; a second grant changes nothing")
    func grantRole() throws {
        let store = try makeStore()
        try store.addUser(name: "u", password: "x")
        for role in ["r2", "r1", "r3"] { try store.addRole(name: role) }
        #expect(throws: AuthError.userNotFound) { try store.grantRole("r1", to: "nosuch") }
        #expect(throws: AuthError.roleNotFound) { try store.grantRole("nosuch", to: "u") }
        try store.grantRole("r3", to: "u")
        try store.grantRole("root", to: "u")
        try store.grantRole("r1", to: "u")
        #expect(try store.user(named: "u").roles == ["r1", "r3", "root"])
        #expect(throws: AuthError.roleNotFound) { try store.role(named: "root") }
        let revision = store.revision
        try store.grantRole("r1", to: "u")
        #expect(store.revision == revision)
        #expect(try store.user(named: "u").roles == ["r1", "r3", "root"])
    }

    @Test("revoke role: unknown user, role not granted; root keeps the root role while auth is enabled")
    func revokeRole() throws {
        let store = try makeEnabledStore()
        try store.addUser(name: "u", password: "x")
        try store.addRole(name: "r")
        try store.grantRole("r", to: "u")
        #expect(throws: AuthError.userNotFound) { try store.revokeRole("r", from: "nosuch") }
        try store.revokeRole("r", from: "u")
        #expect(try store.user(named: "u").roles.isEmpty)
        #expect(throws: AuthError.roleNotGranted) { try store.revokeRole("r", from: "u") }
        #expect(throws: AuthError.roleNotGranted) { try store.revokeRole("never-existed", from: "u") }
        #expect(throws: AuthError.invalidManagement) { try store.revokeRole("root", from: "root") }
        try store.disable()
        try store.revokeRole("root", from: "root")
        #expect(try store.user(named: "root").roles.isEmpty)
    }
}
