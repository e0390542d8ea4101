import Auth
import Testing

/// bcrypt's lowest cost, so tests that hash stay fast; the default cost is checked once.
let fastCost = 4

@Suite("bcrypt password hashes")
struct PasswordHashTests {
    @Test("hash and verify round trip; a new salt each time; the cost is recorded")
    func roundTrip() throws {
        let hash = try PasswordHash.make(password: "correct horse", cost: fastCost)
        #expect(hash.encoded.hasPrefix("$2b$04$") && hash.encoded.utf8.count == 60)
        #expect(hash.cost == fastCost)
        #expect(hash.verify("correct horse"))
        #expect(!hash.verify("correct horsf") && !hash.verify("") && !hash.verify("correct horse "))
        let again = try PasswordHash.make(password: "correct horse", cost: fastCost)
        #expect(again != hash && again.verify("correct horse"))
        #expect(PasswordHash(encoded: hash.encoded) == hash)
    }

    @Test("etcd's default cost is 10; bcrypt's range is 4…31")
    func costs() throws {
        #expect(PasswordHash.defaultCost == 10)
        let hash = try PasswordHash.make(password: "pw")
        #expect(hash.cost == 10 && hash.encoded.hasPrefix("$2b$10$") && hash.verify("pw"))
        #expect(throws: AuthError.passwordHashFailed("")) { try PasswordHash.make(password: "x", cost: 32) }
        #expect(throws: AuthError.passwordHashFailed("")) { try PasswordHash.make(password: "x", cost: 3) }
    }

    /// Made by Go's golang.org/x/crypto/bcrypt (what etcd uses) on this machine; the first one is the hash etcd
    /// 3.4.23 itself stored for `user add root:rootpw` (see the reference transcript's dump of its database).
    @Test("hashes written by etcd (Go's bcrypt, $2a$) verify", arguments: [
        ("$2a$10$fLJyEiVynHoIndlXV5ZX0O7TtAw6jst.OpAjf1tSktOuG.NJAnpMq", "rootpw"),
        ("$2a$04$iHGJ2j6g6HZF/POJVSl6CO1JZfdwGe7W0JP1yzG0dXvygoV/OMe12", "pässwörd-ü"),
        ("$2a$04$NQFlaQbGi39DsN3pn15nVOu0OvsSmSUPwZDOsj3zVwYDdBDVgnQsS", String(repeating: "x", count: 100)),
        ("$2a$04$yMRQ3YFaG6n6ZRWApvNM0.zWjBC4qgQ05CS8fYcprNvCOT/xeHVdu", ""),
    ])
    func goHashes(encoded: String, password: String) throws {
        let hash = try #require(PasswordHash(encoded: encoded))
        #expect(hash.verify(password))
        #expect(!hash.verify("!" + password))
    }

    @Test("like Go, only the first 72 bytes of a password count")
    func longPasswords() throws {
        let goHash = try #require(PasswordHash(encoded: "$2a$04$NQFlaQbGi39DsN3pn15nVOu0OvsSmSUPwZDOsj3zVwYDdBDVgnQsS"))
        #expect(goHash.verify(String(repeating: "x", count: 72) + "anything"))
        #expect(!goHash.verify(String(repeating: "x", count: 71)))
        let long = String(repeating: "é", count: 600)
        let hash = try PasswordHash.make(password: long, cost: fastCost)
        #expect(hash.verify(long))
    }

    @Test("passwords with a NUL character are refused rather than cut short; malformed hashes are not hashes")
    func invalidInput() throws {
        #expect(throws: AuthError.invalidPassword) { try PasswordHash.make(password: "abc\0def", cost: fastCost) }
        let hash = try PasswordHash.make(password: "abc", cost: fastCost)
        #expect(!hash.verify("abc\0def"))
        #expect(PasswordHash(encoded: "") == nil)
        #expect(PasswordHash(encoded: "$1$abcdefgh$") == nil)
        #expect(PasswordHash(encoded: String(hash.encoded.dropLast())) == nil)
        #expect(PasswordHash(encoded: "$5$" + String(hash.encoded.dropFirst(3))) == nil)
    }
}
