import Auth
import Testing

@Suite("Merged permissions, exported and rebuilt")
struct MergedPermissionsTests {
    @Test("a user's merged ranges are sorted, disjoint, not adjacent, in etcd's key/range_end form")
    func exportShape() throws {
        let user = User(name: "u", roles: ["a", "b", "gone"], passwordHash: nil, noPassword: true)
        let roles = [
            Role(name: "a", permissions: [
                Permission(.read, key: bytes("k")), Permission(.readWrite, key: bytes("k\0"), rangeEnd: bytes("m")),
                Permission(.write, key: bytes("x"), rangeEnd: [0]),
            ]),
            Role(name: "b", permissions: [Permission.prefix(.read, bytes("p/")), Permission(.read, key: bytes("c"), rangeEnd: bytes("d"))]),
        ]
        let table = PermissionTable(revision: 7, users: [user], roles: roles)
        let merged = try #require(table.mergedPermissions(of: "u"))
        #expect(!merged.isRoot)
        #expect(merged.read == [
            KeyRange(key: bytes("c"), rangeEnd: bytes("d")),
            KeyRange(key: bytes("k"), rangeEnd: bytes("m")),
            KeyRange(key: bytes("p/"), rangeEnd: bytes("p0")),
        ])
        #expect(merged.write == [
            KeyRange(key: bytes("k\0"), rangeEnd: bytes("m")),
            KeyRange(key: bytes("x"), rangeEnd: [0]),
        ])
        #expect(table.mergedPermissions(of: "nobody") == nil)
        #expect(table.userNames == ["u"])
    }

    @Test("a table rebuilt from its merged ranges decides every request as the original")
    func roundTrip() throws {
        var random = SplitMix64(seed: 0xA07)
        var checked = 0
        for round in 0..<40 {
            let permissions = (0..<Int(random.next() % 7)).map { _ in
                Permission(PermissionType(rawValue: Int32(random.next() % 3))!, key: random.key(3), rangeEnd: random.end())
            }
            let users = [
                User(name: "u", roles: ["r"], passwordHash: nil, noPassword: true),
                User(name: "boss", roles: ["root"], passwordHash: nil, noPassword: true),
            ]
            let original = PermissionTable(revision: UInt64(round), users: users, roles: [Role(name: "r", permissions: permissions)])
            var merged: [String: MergedPermissions] = [:]
            for name in original.userNames { merged[name] = original.mergedPermissions(of: name) }
            for ranges in [merged["u"]!.read, merged["u"]!.write] {
                #expect(ranges.allSatisfy { !$0.key.isEmpty && !$0.rangeEnd.isEmpty })
                for (left, right) in zip(ranges, ranges.dropFirst()) {
                    #expect(left.rangeEnd != [0] && left.rangeEnd.lexicographicallyPrecedes(right.key), "\(ranges)")
                }
            }
            let rebuilt = PermissionTable(revision: original.revision, merged: merged, roles: Dictionary(uniqueKeysWithValues: users.map { ($0.name, Set($0.roles)) }))
            for _ in 0..<150 {
                let requestKey = random.key(3)
                let requestEnd = random.end()
                for type in [PermissionType.read, .write] {
                    for name in ["u", "boss", "nobody"] {
                        #expect(rebuilt.isPermitted(user: name, key: requestKey, rangeEnd: requestEnd, type)
                            == original.isPermitted(user: name, key: requestKey, rangeEnd: requestEnd, type),
                            "permissions \(permissions), \(name) \(type) \(requestKey) – \(requestEnd)")
                    }
                }
                checked += 1
            }
            #expect(rebuilt.isAdmin("boss") && !rebuilt.isAdmin("u"))
            #expect(rebuilt.user("u", holds: "r") && !rebuilt.user("boss", holds: "r") && !rebuilt.user("nobody", holds: "r"))
        }
        #expect(checked == 6000)
    }
}
