import Auth
import AuthStorage
import Storage
import Testing

@Suite("Persistence and the auth revision")
struct PersistenceTests {
    @Test("a fresh store is at revision 1; every change adds one, refusals and no-ops add nothing")
    func revisions() throws {
        let store = try makeStore()
        #expect(store.revision == 1)
        var expected: UInt64 = 1
        func changed(_ change: () throws -> Void) throws {
            try change()
            expected += 1
            #expect(store.revision == expected)
        }
        func unchanged(_ attempt: () throws -> Void) {
            _ = try? attempt()
            #expect(store.revision == expected)
        }
        try changed { try store.addUser(name: "root", password: "rootpw") }
        try changed { try store.addUser(name: "u", password: "upw") }
        unchanged { try store.addUser(name: "u", password: "upw") }
        try changed { try store.addRole(name: "r") }
        unchanged { try store.addRole(name: "r") }
        try changed { try store.grantPermission(Permission(.read, key: bytes("a")), to: "r") }
        try changed { try store.grantPermission(Permission(.read, key: bytes("a")), to: "r") }
        unchanged { try store.grantPermission(Permission(.read, key: bytes("a")), to: "nosuch") }
        try changed { try store.grantRole("r", to: "u") }
        unchanged { try store.grantRole("r", to: "u") }
        try changed { try store.grantRole("root", to: "root") }
        try changed { try store.enable() }
        unchanged { try store.enable() }
        try changed { try store.changePassword(name: "u", password: "new") }
        try changed { try store.revokePermission(key: bytes("a"), rangeEnd: [], from: "r") }
        unchanged { try store.revokePermission(key: bytes("a"), rangeEnd: [], from: "r") }
        try changed { try store.revokeRole("r", from: "u") }
        unchanged { try store.revokeRole("r", from: "u") }
        try changed { try store.deleteRole(name: "r") }
        try changed { try store.deleteUser(name: "u") }
        unchanged { try store.deleteUser(name: "root") }
        try changed { try store.disable() }
        unchanged { try store.disable() }
    }

    @Test("users, hashes, roles, permissions, the enabled flag and the revision survive a reopen, and so do simple tokens")
    func reopen() throws {
        let storage = InMemoryStorage()
        let now = ContinuousClock.now
        let store = try makeEnabledStore(storage)
        try store.addUser(name: "u", password: "upw")
        try store.addUser(name: "nopw", password: "", noPassword: true)
        try store.addRole(name: "r")
        try store.grantPermission(.prefix(.readWrite, bytes("p/")), to: "r")
        try store.grantPermission(Permission(.write, key: [0, 0xFF], rangeEnd: [0]), to: "r")
        try store.grantRole("r", to: "u")
        let token = try store.authenticate(name: "u", password: "upw", now: now)

        let reopened = try makeStore(storage)
        #expect(reopened.isEnabled)
        #expect(reopened.revision == store.revision)
        #expect(reopened.userNames == ["nopw", "root", "u"])
        #expect(try reopened.user(named: "u") == store.user(named: "u"))
        #expect(try reopened.user(named: "nopw").noPassword)
        #expect(try reopened.role(named: "r") == store.role(named: "r"))
        #expect(try reopened.authInfo(token: token, now: now)?.user == "u")
        let info = try reopened.authInfo(token: reopened.authenticate(name: "u", password: "upw", now: now), now: now)
        try reopened.check(reading(bytes("p/x"), []), info)
        try reopened.check(writing(bytes("q")), info)
        #expect(throws: AuthError.permissionDenied) { try reopened.check(reading(bytes("q"), []), info) }
    }

    @Test("the same on LevelDB, across closing and reopening the database")
    func reopenLevelDB() throws {
        let directory = try temporaryDirectory()
        let revision: UInt64
        let token: String
        do {
            let store = try makeEnabledStore(try LevelDBStorage(path: directory))
            try store.addRole(name: "r")
            try store.grantPermission(Permission(.read, key: bytes("k")), to: "r")
            revision = store.revision
            token = try store.authenticate(name: "root", password: "rootpw", now: .now)
        }
        let reopened = try makeStore(try LevelDBStorage(path: directory))
        #expect(reopened.isEnabled && reopened.revision == revision)
        #expect(try reopened.authInfo(token: token, now: .now)?.user == "root")
        #expect(try reopened.role(named: "r").permissions == [Permission(.read, key: bytes("k"))])
        #expect(try reopened.checkPassword(name: "root", password: "rootpw") == revision)
    }

    @Test("a failed write changes nothing, not even the revision")
    func failedWrite() throws {
        let storage = FailingStorage()
        let store = try makeStore(storage)
        try store.addUser(name: "u", password: "x")
        let revision = store.revision
        storage.failing.store(true, ordering: .relaxed)
        #expect(throws: AuthError.storageFailure("")) { try store.addRole(name: "r") }
        #expect(throws: AuthError.storageFailure("")) { try store.deleteUser(name: "u") }
        #expect(store.revision == revision)
        #expect(store.roleNames.isEmpty && store.userNames == ["u"])
        storage.failing.store(false, ordering: .relaxed)
        let reopened = try makeStore(storage.base)
        #expect(reopened.revision == revision && reopened.userNames == ["u"])
    }

    @Test("an undecodable record is reported as corrupt when opening")
    func corruptRecord() throws {
        let storage = InMemoryStorage()
        _ = try makeStore(storage)
        var batch = WriteBatch()
        batch.put(bytes("ubroken"), [1, 0, 0, 0])
        try storage.write(batch, sync: true)
        #expect(throws: AuthError.corrupt("")) { try makeStore(storage) }
    }
}
