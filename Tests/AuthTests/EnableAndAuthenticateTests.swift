import Auth
import AuthStorage
import Testing

@Suite("Auth enable and Authenticate")
struct EnableAndAuthenticateTests {
    private let now = ContinuousClock.now

    @Test("enable needs a root user holding the root role; enabling or disabling twice changes nothing")
    func enable() throws {
        let store = try makeStore()
        #expect(throws: AuthError.rootUserNotExist) { try store.enable() }
        try store.addUser(name: "root", password: "rootpw")
        #expect(throws: AuthError.rootRoleNotExist) { try store.enable() }
        #expect(!store.isEnabled)
        try store.grantRole("root", to: "root")
        try store.enable()
        #expect(store.isEnabled)
        let revision = store.revision
        try store.enable()
        #expect(store.revision == revision)
        try store.disable()
        #expect(!store.isEnabled && store.revision == revision + 1)
        try store.disable()
        #expect(store.revision == revision + 1)
    }

    @Test("a root user without a password is enough to enable auth")
    func noPasswordRoot() throws {
        let store = try makeStore()
        try store.addUser(name: "root", password: "", noPassword: true)
        try store.grantRole("root", to: "root")
        try store.enable()
        #expect(store.isEnabled)
    }

    @Test("authenticate: not enabled, unknown user and wrong password alike, no-password user, empty password")
    func authenticate() throws {
        let store = try makeStore()
        try store.addUser(name: "root", password: "rootpw")
        try store.grantRole("root", to: "root")
        try store.addUser(name: "u", password: "upw")
        try store.addUser(name: "nopw", password: "", noPassword: true)
        try store.addUser(name: "empty", password: "")
        #expect(throws: AuthError.notEnabled) { try store.authenticate(name: "u", password: "upw", now: now) }
        try store.enable()
        let token = try store.authenticate(name: "u", password: "upw", now: now)
        #expect(try store.authInfo(token: token, now: now) == AuthInfo(user: "u", revision: store.revision))
        #expect(throws: AuthError.authFailed) { try store.authenticate(name: "u", password: "bad", now: now) }
        #expect(throws: AuthError.authFailed) { try store.authenticate(name: "nosuch", password: "upw", now: now) }
        #expect(throws: AuthError.authFailed) { try store.authenticate(name: "", password: "", now: now) }
        #expect(throws: AuthError.noPasswordUser) { try store.authenticate(name: "nopw", password: "", now: now) }
        #expect(try store.authenticate(name: "empty", password: "", now: now) != token, "etcd 3.4 accepts an empty password")
    }

    @Test("a password checked before the store changed gets no token (etcd checks again)")
    func staleCheck() throws {
        let store = try makeEnabledStore()
        try store.addUser(name: "u", password: "upw")
        let checked = try store.checkPassword(name: "u", password: "upw")
        try store.addRole(name: "meanwhile")
        #expect(throws: AuthError.oldRevision) { try store.issueToken(name: "u", checkedRevision: checked, now: now) }
        let again = try store.checkPassword(name: "u", password: "upw")
        #expect(try store.authInfo(token: store.issueToken(name: "u", checkedRevision: again, now: now), now: now)?.user == "u")
    }
}
