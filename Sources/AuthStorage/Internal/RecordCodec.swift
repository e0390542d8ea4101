import Auth
import Storage

/// The byte layout of the auth store's records (docs/auth.md): a format byte, then fields, each byte string
/// preceded by its length as a big-endian UInt32.
enum RecordCodec {
    static let format: UInt8 = 1

    private static let noPasswordFlag: UInt8 = 1

    static func encode(_ user: User) -> [UInt8] {
        var bytes: [UInt8] = [format, user.noPassword ? noPasswordFlag : 0]
        appendField(Array(user.name.utf8), to: &bytes)
        appendField(Array((user.passwordHash?.encoded ?? "").utf8), to: &bytes)
        bytes.appendBigEndian(UInt32(user.roles.count))
        for role in user.roles { appendField(Array(role.utf8), to: &bytes) }
        return bytes
    }

    static func decodeUser(_ bytes: [UInt8]) throws(AuthError) -> User {
        var reader = Reader(bytes: bytes[...])
        guard try reader.byte() == format else { throw .corrupt("unknown user record format") }
        let flags = try reader.byte()
        let name = try reader.string()
        let hashText = try reader.string()
        var passwordHash: PasswordHash?
        if !hashText.isEmpty {
            guard let hash = PasswordHash(encoded: hashText) else { throw .corrupt("user \(name.debugDescription): bad password hash") }
            passwordHash = hash
        }
        var roles: [String] = []
        for _ in 0..<(try reader.uint32()) { roles.append(try reader.string()) }
        try reader.finish()
        return User(name: name, roles: roles, passwordHash: passwordHash, noPassword: flags & noPasswordFlag != 0)
    }

    static func encode(_ role: Role) -> [UInt8] {
        var bytes: [UInt8] = [format]
        appendField(Array(role.name.utf8), to: &bytes)
        bytes.appendBigEndian(UInt32(role.permissions.count))
        for permission in role.permissions {
            bytes.append(UInt8(permission.type.rawValue))
            appendField(permission.key, to: &bytes)
            appendField(permission.rangeEnd, to: &bytes)
        }
        return bytes
    }

    static func decodeRole(_ bytes: [UInt8]) throws(AuthError) -> Role {
        var reader = Reader(bytes: bytes[...])
        guard try reader.byte() == format else { throw .corrupt("unknown role record format") }
        let name = try reader.string()
        var permissions: [Permission] = []
        for _ in 0..<(try reader.uint32()) {
            guard let type = PermissionType(rawValue: Int32(try reader.byte())) else {
                throw .corrupt("role \(name.debugDescription): unknown permission type")
            }
            permissions.append(Permission(type, key: try reader.field(), rangeEnd: try reader.field()))
        }
        try reader.finish()
        return Role(name: name, permissions: permissions)
    }

    static func encode(revision: UInt64) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.appendBigEndian(revision)
        return bytes
    }

    static func decodeRevision(_ bytes: [UInt8]) throws(AuthError) -> UInt64 {
        guard bytes.count == 8 else { throw .corrupt("auth revision is \(bytes.count) bytes") }
        return UInt64(bigEndianBytes: bytes[...])
    }

    private static func appendField(_ field: [UInt8], to bytes: inout [UInt8]) {
        bytes.appendBigEndian(UInt32(field.count))
        bytes.append(contentsOf: field)
    }

    private struct Reader {
        var bytes: ArraySlice<UInt8>

        mutating func byte() throws(AuthError) -> UInt8 {
            guard let byte = bytes.popFirst() else { throw .corrupt("auth record ends early") }
            return byte
        }

        mutating func uint32() throws(AuthError) -> UInt32 {
            guard bytes.count >= 4 else { throw .corrupt("auth record ends early") }
            defer { bytes = bytes.dropFirst(4) }
            return UInt32(truncatingIfNeeded: UInt64(bigEndianBytes: bytes.prefix(4)))
        }

        mutating func field() throws(AuthError) -> [UInt8] {
            let count = Int(try uint32())
            guard bytes.count >= count else { throw .corrupt("auth record ends early") }
            defer { bytes = bytes.dropFirst(count) }
            return Array(bytes.prefix(count))
        }

        mutating func string() throws(AuthError) -> String {
            let field = try field()
            guard let string = String(validating: field, as: UTF8.self) else { throw .corrupt("auth record holds invalid UTF-8") }
            return string
        }

        func finish() throws(AuthError) {
            guard bytes.isEmpty else { throw .corrupt("auth record has trailing bytes") }
        }
    }
}
