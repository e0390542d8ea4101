import Auth
import AuthStorage
import Testing

@Suite("Roles")
struct RoleTests {
    @Test("role add, get and list: empty name, existing role, unknown role, names in byte order; root is an ordinary name")
    func addGetList() throws {
        let store = try makeStore()
        try store.addRole(name: "r1")
        try store.addRole(name: "root")
        try store.addRole(name: "A")
        #expect(throws: AuthError.roleEmpty) { try store.addRole(name: "") }
        #expect(throws: AuthError.roleAlreadyExists) { try store.addRole(name: "r1") }
        #expect(throws: AuthError.roleNotFound) { try store.role(named: "nosuch") }
        #expect(try store.role(named: "r1").permissions.isEmpty)
        #expect(store.roleNames == ["A", "r1", "root"])
    }

    @Test("grant permission: sorted by key, the same key and range end change type, every kind of range")
    func grant() throws {
        let store = try makeStore()
        try store.addRole(name: "r1")
        #expect(throws: AuthError.roleNotFound) { try store.grantPermission(Permission(.read, key: bytes("a")), to: "nosuch") }
        try store.grantPermission(Permission(.read, key: bytes("a")), to: "r1")
        try store.grantPermission(Permission(.write, key: bytes("b")), to: "r1")
        try store.grantPermission(Permission(.readWrite, key: bytes("c")), to: "r1")
        try store.grantPermission(.prefix(.read, bytes("p/")), to: "r1")
        try store.grantPermission(Permission(.write, key: bytes("m"), rangeEnd: bytes("n")), to: "r1")
        try store.grantPermission(Permission(.read, key: bytes("z"), rangeEnd: [0]), to: "r1")
        try store.grantPermission(Permission(.readWrite, key: bytes("a")), to: "r1")
        // The order and types etcd 3.4 answered for the same grants (reference transcript, `role get r1 -w json`).
        #expect(try store.role(named: "r1").permissions == [
            Permission(.readWrite, key: bytes("a")),
            Permission(.write, key: bytes("b")),
            Permission(.readWrite, key: bytes("c")),
            Permission(.write, key: bytes("m"), rangeEnd: bytes("n")),
            Permission(.read, key: bytes("p/"), rangeEnd: bytes("p0")),
            Permission(.read, key: bytes("z"), rangeEnd: [0]),
        ])
    }

    @Test("etcd's grant quirk: a permission whose key matches the first one but not its range end is added again")
    func duplicateQuirk() throws {
        let store = try makeStore()
        try store.addRole(name: "dup")
        try store.grantPermission(Permission(.read, key: bytes("a")), to: "dup")
        try store.grantPermission(Permission(.read, key: bytes("a"), rangeEnd: bytes("b")), to: "dup")
        try store.grantPermission(Permission(.write, key: bytes("a"), rangeEnd: bytes("b")), to: "dup")
        #expect(try store.role(named: "dup").permissions == [
            Permission(.read, key: bytes("a")),
            Permission(.read, key: bytes("a"), rangeEnd: bytes("b")),
            Permission(.write, key: bytes("a"), rangeEnd: bytes("b")),
        ])
        try store.revokePermission(key: bytes("a"), rangeEnd: bytes("b"), from: "dup")
        #expect(try store.role(named: "dup").permissions == [Permission(.read, key: bytes("a"))])
    }

    @Test("revoke permission: exact key and range end whatever the type; not granted; unknown role")
    func revoke() throws {
        let store = try makeStore()
        try store.addRole(name: "r")
        try store.grantPermission(Permission(.readWrite, key: bytes("a")), to: "r")
        try store.grantPermission(.prefix(.read, bytes("p/")), to: "r")
        try store.grantPermission(Permission(.write, key: bytes("m"), rangeEnd: bytes("n")), to: "r")
        #expect(throws: AuthError.permissionNotGranted) { try store.revokePermission(key: bytes("m"), rangeEnd: [], from: "r") }
        #expect(throws: AuthError.permissionNotGranted) { try store.revokePermission(key: bytes("p/"), rangeEnd: [0], from: "r") }
        #expect(throws: AuthError.roleNotFound) { try store.revokePermission(key: bytes("a"), rangeEnd: [], from: "nosuch") }
        try store.revokePermission(key: bytes("a"), rangeEnd: [], from: "r")
        #expect(throws: AuthError.permissionNotGranted) { try store.revokePermission(key: bytes("a"), rangeEnd: [], from: "r") }
        try store.revokePermission(key: bytes("p/"), rangeEnd: bytes("p0"), from: "r")
        #expect(try store.role(named: "r").permissions == [Permission(.write, key: bytes("m"), rangeEnd: bytes("n"))])
    }

    @Test("role delete: taken from every user in the same change; unknown role; root only while auth is disabled")
    func delete() throws {
        let store = try makeEnabledStore()
        try store.addRole(name: "r1")
        try store.addRole(name: "r2")
        try store.addRole(name: "root")
        for name in ["u", "v"] {
            try store.addUser(name: name, password: "x")
            try store.grantRole("r1", to: name)
            try store.grantRole("r2", to: name)
        }
        let revision = store.revision
        try store.deleteRole(name: "r2")
        #expect(store.revision == revision + 1)
        #expect(try store.user(named: "u").roles == ["r1"] && store.user(named: "v").roles == ["r1"])
        #expect(throws: AuthError.roleNotFound) { try store.deleteRole(name: "r2") }
        #expect(throws: AuthError.invalidManagement) { try store.deleteRole(name: "root") }
        try store.disable()
        try store.deleteRole(name: "root")
        #expect(try store.user(named: "root").roles.isEmpty)
        #expect(store.roleNames == ["r1"])
    }

    @Test("prefix ends as clientv3 computes them")
    func prefixEnd() {
        #expect(Permission.prefixEnd(bytes("p/")) == bytes("p0"))
        #expect(Permission.prefixEnd([0x61, 0xFF]) == [0x62])
        #expect(Permission.prefixEnd([0xFF, 0xFF]) == [0])
        #expect(Permission.prefixEnd([]) == [0])
        #expect(Permission.prefix(.write, bytes("ab")) == Permission(.write, key: bytes("ab"), rangeEnd: bytes("ac")))
    }
}
