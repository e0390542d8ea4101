import CCrypt

/// A bcrypt hash of a user's password, as etcd stores it: the 60-character modular crypt string
/// (`$2b$10$` + 22 characters of salt + 31 of hash). Etcetera writes `$2b$`; hashes written by etcd (Go's
/// x/crypto writes `$2a$`) verify as well, and Go verifies Etcetera's.
///
/// Hashing goes through libxcrypt's `crypt_rn` with a fresh `crypt_data` per call, so it is safe from any
/// thread. Its description never shows the hash.
public struct PasswordHash: Sendable, Hashable, CustomStringConvertible, CustomReflectable {
    /// etcd's `--bcrypt-cost` default (Go's `bcrypt.DefaultCost`).
    public static let defaultCost = 10
    /// The costs bcrypt accepts; etcd falls back to the default for anything else.
    public static let costs = 4...31

    /// bcrypt reads at most 72 bytes of a password; longer ones are cut there, as Go and OpenBSD do.
    static let significantPasswordBytes = 72

    /// The modular crypt string, for persistence.
    public let encoded: String

    /// Wraps a stored hash. Returns nil unless it is a bcrypt string (`$2a$`, `$2b$` or `$2y$`).
    public init?(encoded: String) {
        let bytes = Array(encoded.utf8)
        guard bytes.count == 60, bytes[0] == UInt8(ascii: "$"), bytes[1] == UInt8(ascii: "2"),
              [UInt8(ascii: "a"), UInt8(ascii: "b"), UInt8(ascii: "y")].contains(bytes[2]),
              bytes[3] == UInt8(ascii: "$"), bytes[6] == UInt8(ascii: "$")
        else { return nil }
        self.encoded = encoded
    }

    /// Hashes `password` with a new random salt.
    /// - Parameters:
    ///   - password: any string without NUL characters (C's crypt cannot see past one).
    ///   - cost: log₂ of the rounds; etcd's default is 10 (about 60 ms here).
    public static func make(password: String, cost: Int = defaultCost) throws(AuthError) -> PasswordHash {
        guard costs.contains(cost) else { throw .passwordHashFailed("cost \(cost) is outside \(costs)") }
        let phrase = try significantBytes(of: password)
        var setting = [CChar](repeating: 0, count: Int(CRYPT_GENSALT_OUTPUT_SIZE))
        // With no random bytes given, libxcrypt draws the salt from the operating system's generator.
        guard crypt_gensalt_rn("$2b$", UInt(cost), nil, 0, &setting, Int32(setting.count)) != nil else {
            throw .passwordHashFailed("crypt_gensalt_rn failed")
        }
        guard let result = crypt(phrase, setting: setting), let hash = PasswordHash(encoded: result) else {
            throw .passwordHashFailed("crypt_rn failed")
        }
        return hash
    }

    /// Whether `password` is the one this hash was made from. Takes as long as hashing (the cost).
    public func verify(_ password: String) -> Bool {
        guard let phrase = try? Self.significantBytes(of: password) else { return false }
        let setting = Array(encoded.utf8CString)
        guard let result = Self.crypt(phrase, setting: setting) else { return false }
        return Self.constantTimeEqual(Array(result.utf8), Array(encoded.utf8))
    }

    /// The bcrypt cost recorded in the hash.
    public var cost: Int {
        let bytes = Array(encoded.utf8)
        return Int(bytes[4] - UInt8(ascii: "0")) * 10 + Int(bytes[5] - UInt8(ascii: "0"))
    }

    public var description: String { "PasswordHash(bcrypt, cost \(cost))" }

    public var customMirror: Mirror { Mirror(self, children: ["cost": cost]) }

    // MARK: Internals

    /// The password as the NUL-terminated C string crypt reads, cut to bcrypt's 72 significant bytes (which
    /// also keeps it under libxcrypt's 512-byte passphrase limit).
    private static func significantBytes(of password: String) throws(AuthError) -> [CChar] {
        let bytes = Array(password.utf8)
        guard !bytes.contains(0) else { throw .invalidPassword }
        return bytes.prefix(significantPasswordBytes).map { CChar(bitPattern: $0) } + [0]
    }

    private static func crypt(_ phrase: [CChar], setting: [CChar]) -> String? {
        let data = UnsafeMutableRawPointer.allocate(
            byteCount: MemoryLayout<crypt_data>.size, alignment: MemoryLayout<crypt_data>.alignment)
        defer {
            // The scratch area held key material: clear it before giving the memory back.
            data.initializeMemory(as: UInt8.self, repeating: 0, count: MemoryLayout<crypt_data>.size)
            data.deallocate()
        }
        data.initializeMemory(as: UInt8.self, repeating: 0, count: MemoryLayout<crypt_data>.size)
        guard let output = crypt_rn(phrase, setting, data, Int32(MemoryLayout<crypt_data>.size)) else { return nil }
        let result = String(cString: output)
        return result.hasPrefix("*") ? nil : result
    }

    private static func constantTimeEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        guard lhs.count == rhs.count else { return false }
        var difference: UInt8 = 0
        for index in lhs.indices { difference |= lhs[index] ^ rhs[index] }
        return difference == 0
    }
}
