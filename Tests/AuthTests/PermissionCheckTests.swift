import Auth
import AuthStorage
import Testing

@Suite("Permission checks")
struct PermissionCheckTests {
    /// The users and roles of the reference transcript's "user u" section, on real etcd 3.4.
    private func transcriptStore() throws -> (AuthStore, AuthInfo) {
        let store = try makeEnabledStore()
        try store.addUser(name: "u", password: "upw")
        let roles: [(String, Permission)] = [
            ("single", Permission(.readWrite, key: bytes("k1"))),
            ("pre", .prefix(.read, bytes("p/"))),
            ("rng", Permission(.write, key: bytes("m"), rangeEnd: bytes("n"))),
            ("from", Permission(.read, key: bytes("z"), rangeEnd: [0])),
        ]
        for (name, permission) in roles {
            try store.addRole(name: name)
            try store.grantPermission(permission, to: name)
            try store.grantRole(name, to: "u")
        }
        return (store, AuthInfo(user: "u", revision: store.revision))
    }

    enum Check: Sendable { case range, put, delete }

    @Test("what etcd 3.4 allowed and denied user u, request by request (reference transcript)", arguments: [
        (Check.put, "k1", "", true), (.range, "k1", "", true), (.put, "k2", "", false), (.range, "k2", "", false),
        (.put, "p/a", "", false), (.range, "p/a", "", true), (.range, "p/", "p0", true), (.range, "p", "q", false),
        (.range, "p/a", "p/z", true), (.range, "p/a", "p0", true), (.range, "p/a", "p1", false),
        (.put, "m", "", true), (.put, "mzzz", "", true), (.put, "n", "", false), (.range, "m", "", false),
        (.range, "z", "", true), (.range, "zz", "\0", true), (.range, "z", "\0", true), (.range, "y", "\0", false),
        (.range, "\0", "\0", false), (.delete, "k1", "", true), (.delete, "m", "", true), (.delete, "m", "n", true),
        (.delete, "m", "mz", true), (.delete, "p/a", "", false),
    ] as [(Check, String, String, Bool)])
    func transcriptMatrix(check: Check, key: String, rangeEnd: String, allowed: Bool) throws {
        let (store, info) = try transcriptStore()
        let attempt: () throws -> Void = switch check {
        case .range: { try store.check(reading(bytes(key), bytes(rangeEnd)), info) }
        case .put: { try store.check(writing(bytes(key)), info) }
        case .delete: { try store.check(writing(bytes(key), bytes(rangeEnd)), info) }
        }
        if allowed {
            try attempt()
        } else {
            #expect(throws: AuthError.permissionDenied) { try attempt() }
        }
    }

    @Test("ranges must be covered in full by the union of the user's roles; adjacent permissions join, gaps do not")
    func coverage() throws {
        let store = try makeEnabledStore()
        try store.addUser(name: "u", password: "x")
        let grants: [(String, Permission)] = [
            ("ac", Permission(.read, key: bytes("a"), rangeEnd: bytes("c"))),
            ("be", Permission(.read, key: bytes("b"), rangeEnd: bytes("e"))),
            ("gh", Permission(.read, key: bytes("g"), rangeEnd: bytes("h"))),
            ("hj", Permission(.readWrite, key: bytes("h"), rangeEnd: bytes("j"))),
            ("k", Permission(.read, key: bytes("k"))),
            ("k0", Permission(.read, key: bytes("k") + [0], rangeEnd: bytes("m"))),
            ("w", Permission(.write, key: bytes("w"), rangeEnd: [0])),
        ]
        for (role, permission) in grants {
            try store.addRole(name: role)
            try store.grantPermission(permission, to: role)
            try store.grantRole(role, to: "u")
        }
        let table = store.permissionTable
        func read(_ key: String, _ end: String = "") -> Bool { table.isPermitted(user: "u", key: bytes(key), rangeEnd: bytes(end), .read) }
        func write(_ key: String, _ end: String = "") -> Bool { table.isPermitted(user: "u", key: bytes(key), rangeEnd: bytes(end), .write) }
        #expect(read("a", "e") && read("a", "d") && read("b") && read("d"), "overlapping roles join")
        #expect(!read("a", "f") && !read("e") && !read("d", "g"), "the gap [e, g) is not covered")
        #expect(read("g", "j") && read("g", "i\0"), "adjacent ranges join")
        #expect(!read("g", "j\0") && !read("f", "h"))
        #expect(read("k", "m") && read("k") && read("k\0\0"), "a single key and the range starting right after it join")
        #expect(!read("j", "k\0") && !read("k", "m\0"))
        #expect(write("h", "j") && !write("g", "j") && write("i"), "READWRITE counts for writing, READ does not")
        #expect(write("w", "\0") && write("wz", "\0") && write("zzz") && !write("v", "\0") && !read("w"))
    }

    @Test("root bypasses; an unknown user or a user without roles gets nothing; auth disabled allows everything")
    func rootAndNobody() throws {
        let store = try makeEnabledStore()
        try store.addRole(name: "root")
        try store.addUser(name: "plain", password: "x")
        let root = AuthInfo(user: "root", revision: store.revision)
        try store.check(writing(bytes("anything")), root)
        try store.check(reading([0], [0]), root)
        try store.check(writing(bytes("a"), bytes("z")), root)
        #expect(throws: AuthError.permissionDenied) { try store.check(reading(bytes("a"), []), AuthInfo(user: "plain", revision: store.revision)) }
        #expect(throws: AuthError.permissionDenied) { try store.check(reading(bytes("a"), []), AuthInfo(user: "ghost", revision: store.revision)) }
        #expect(throws: AuthError.userEmpty) { try store.check(reading(bytes("a"), []), nil) }
        #expect(throws: AuthError.userEmpty) { try store.check(writing(bytes("a")), AuthInfo(user: "", revision: store.revision)) }
        #expect(throws: AuthError.oldRevision) { try store.check(writing(bytes("a")), AuthInfo(user: "root", revision: store.revision - 1)) }
        try store.disable()
        try store.check(writing(bytes("a")), nil)
        try store.check(reading(bytes("a"), bytes("b")), AuthInfo(user: "ghost", revision: 1))
        try store.check(.admin, nil)
    }

    @Test("every key: etcdctl's empty-key --prefix grant (\"\\0\", \"\\0\"); a permission with an empty key covers nothing")
    func everyKey() throws {
        let store = try makeEnabledStore()
        try store.addUser(name: "all", password: "x")
        try store.addRole(name: "all")
        try store.grantPermission(Permission(.read, key: [0], rangeEnd: [0]), to: "all")
        try store.grantRole("all", to: "all")
        try store.addUser(name: "empty", password: "x")
        try store.addRole(name: "empty")
        try store.grantPermission(Permission(.readWrite, key: [], rangeEnd: [0]), to: "empty")
        try store.grantPermission(Permission(.readWrite, key: []), to: "empty")
        try store.grantRole("empty", to: "empty")
        let table = store.permissionTable
        #expect(table.isPermitted(user: "all", key: [0], rangeEnd: [0], .read))
        #expect(table.isPermitted(user: "all", key: bytes("x"), rangeEnd: [], .read))
        #expect(!table.isPermitted(user: "all", key: bytes("x"), rangeEnd: [], .write))
        for (key, end) in [([UInt8](bytes("a")), [UInt8]()), ([0], [0]), (bytes("a"), bytes("b"))] {
            #expect(!table.isPermitted(user: "empty", key: key, rangeEnd: end, .read))
        }
    }

    @Test("changes apply to the very next check: the cached table follows the revision")
    func cacheFollowsRevision() throws {
        let (store, _) = try transcriptStore()
        let before = store.permissionTable
        #expect(before.revision == store.revision)
        try store.check(writing(bytes("k1")), AuthInfo(user: "u", revision: store.revision))
        try store.revokeRole("single", from: "u")
        #expect(store.permissionTable.revision == store.revision && before.revision != store.revision)
        #expect(throws: AuthError.permissionDenied) { try store.check(writing(bytes("k1")), AuthInfo(user: "u", revision: store.revision)) }
        try store.grantRole("single", to: "u")
        try store.check(writing(bytes("k1")), AuthInfo(user: "u", revision: store.revision))
        try store.deleteRole(name: "single")
        #expect(throws: AuthError.permissionDenied) { try store.check(reading(bytes("k1"), []), AuthInfo(user: "u", revision: store.revision)) }
    }

    @Test("admin operations need the root role; UserGet allows oneself, RoleGet the roles one holds")
    func admin() throws {
        let (store, u) = try transcriptStore()
        let root = AuthInfo(user: "root", revision: store.revision)
        try store.check(.admin, root)
        #expect(throws: AuthError.permissionDenied) { try store.check(.admin, u) }
        #expect(throws: AuthError.userEmpty) { try store.check(.admin, nil) }
        #expect(throws: AuthError.userNotFound) { try store.check(.admin, AuthInfo(user: "ghost", revision: store.revision)) }
        try store.check(.adminOrUser("u"), u)
        try store.check(.adminOrUser("u"), root)
        #expect(throws: AuthError.permissionDenied) { try store.check(.adminOrUser("root"), u) }
        try store.check(.adminOrRole("single"), u)
        try store.check(.adminOrRole("single"), root)
        #expect(throws: AuthError.permissionDenied) { try store.check(.adminOrRole("root"), u) }
        #expect(throws: AuthError.userEmpty) { try store.check(.adminOrRole("single"), nil) }
    }

    @Test("the merged intervals answer as etcd's interval tree on random permissions and requests")
    func matchesIntervalTree() throws {
        var random = SplitMix64(seed: 0x5EED)
        func isOrdered(_ key: [UInt8], _ rangeEnd: [UInt8]) -> Bool {
            !key.isEmpty && (rangeEnd.isEmpty || rangeEnd == [0] || key.lexicographicallyPrecedes(rangeEnd))
        }
        var checked = 0
        for _ in 0..<40 {
            // Inverted ranges and empty keys are left out: etcd's tree prunes its walk with them in ways a plain
            // scan does not reproduce (both are covered by the fixed cases above).
            var permissions: [Permission] = []
            let count = Int(random.next() % 6)
            while permissions.count < count {
                let permission = Permission(.read, key: random.key(3), rangeEnd: random.end())
                if isOrdered(permission.key, permission.rangeEnd) { permissions.append(permission) }
            }
            let user = User(name: "u", roles: ["r"], passwordHash: nil, noPassword: true)
            let table = PermissionTable(revision: 1, users: [user], roles: [Role(name: "r", permissions: permissions)])
            let reference = ReferenceIntervalTree(permissions)
            for _ in 0..<200 {
                let requestKey = random.key(3)
                let requestEnd = random.end()
                guard isOrdered(requestKey, requestEnd) else { continue }
                let expected = requestEnd.isEmpty ? reference.intersects(point: requestKey) : reference.contains(key: requestKey, rangeEnd: requestEnd)
                #expect(table.isPermitted(user: "u", key: requestKey, rangeEnd: requestEnd, .read) == expected,
                        "permissions \(permissions), request \(requestKey) – \(requestEnd)")
                checked += 1
            }
        }
        #expect(checked > 3000)
    }
}

/// etcd's `adt.IntervalTree` answers (`Intersects`, `Contains`) computed the slow way, from `pkg/adt`'s own
/// rules: bytes-affine comparison (empty = +∞), overlap by `Interval.Compare`, and `Contains` visiting the
/// overlapping intervals in begin order, checking they are contiguous.
private struct ReferenceIntervalTree {
    private struct Interval { var begin: [UInt8]; var end: [UInt8] }
    private var intervals: [Interval]

    init(_ permissions: [Permission]) {
        intervals = permissions.map { permission in
            if permission.rangeEnd.isEmpty { return Interval(begin: permission.key, end: permission.key + [0]) }
            return Interval(begin: permission.key, end: permission.rangeEnd == [0] ? [] : permission.rangeEnd)
        }
    }

    private static func compare(_ a: [UInt8], _ b: [UInt8]) -> Int {
        if a.isEmpty { return b.isEmpty ? 0 : 1 }
        if b.isEmpty { return -1 }
        if a == b { return 0 }
        return a.lexicographicallyPrecedes(b) ? -1 : 1
    }

    /// `Interval.Compare`: 0 when the intervals overlap.
    private static func overlaps(_ query: Interval, _ node: Interval) -> Bool {
        let beginVsBegin = compare(query.begin, node.begin)
        let beginVsEnd = compare(query.begin, node.end)
        let endVsBegin = compare(query.end, node.begin)
        if beginVsBegin < 0 && endVsBegin <= 0 { return false }
        if beginVsEnd >= 0 { return false }
        return true
    }

    func intersects(point key: [UInt8]) -> Bool {
        intervals.contains { Self.overlaps(Interval(begin: key, end: key + [0]), $0) }
    }

    func contains(key: [UInt8], rangeEnd: [UInt8]) -> Bool {
        let query = Interval(begin: key, end: rangeEnd == [0] ? [] : rangeEnd)
        let visited = intervals.filter { Self.overlaps(query, $0) }.sorted { Self.compare($0.begin, $1.begin) < 0 }
        guard var maxEnd = visited.first?.end, let minBegin = visited.first?.begin else { return false }
        for interval in visited.dropFirst() {
            if Self.compare(maxEnd, interval.begin) < 0 { return false }
            if Self.compare(interval.end, maxEnd) > 0 { maxEnd = interval.end }
        }
        return Self.compare(maxEnd, query.end) >= 0 && Self.compare(minBegin, query.begin) <= 0
    }
}

/// A small seeded generator, so a failure reproduces.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE5_E9B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension SplitMix64 {
    /// Keys over a few bytes that matter to byte order (NUL, "a"–"c", 0xFF), of length 0 to `maxLength`.
    mutating func key(_ maxLength: Int) -> [UInt8] {
        let alphabet: [UInt8] = [0, 0x61, 0x62, 0x63, 0xFF]
        return (0..<Int(next() % UInt64(maxLength + 1))).map { _ in alphabet[Int(next() % UInt64(alphabet.count))] }
    }

    /// A range end as etcd reads it: empty (the single key), "\0" (every key from the start) or a key.
    mutating func end() -> [UInt8] {
        switch next() % 4 {
        case 0: []
        case 1: [0]
        default: key(3)
        }
    }
}
