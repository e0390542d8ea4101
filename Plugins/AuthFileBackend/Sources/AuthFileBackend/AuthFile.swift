import Auth
import Foundation

/// The users, roles and enabled flag an auth file holds (docs/auth-plugins.md, "The file backend"), checked
/// against every rule of the format, so a state built from it answers as etcetera-auth would with the same
/// users and roles. The C backend (Plugins/auth-c) reads the same format and must agree.
public struct AuthFile: Sendable, Hashable {
    /// Whether auth is on.
    public var enabled: Bool
    /// Every user, in byte order of the names; roles sorted and without repeats.
    public var users: [User]
    /// Every role, in byte order of the names; permissions sorted by key (stable), as RoleGet answers them.
    public var roles: [Role]

    /// Parses and checks one JSON document.
    public init(json: Data) throws(AuthFileProblem) {
        let document: Document
        do {
            document = try JSONDecoder().decode(Document.self, from: json)
        } catch let error as DecodingError {
            throw AuthFileProblem(error)
        } catch {
            throw AuthFileProblem("not valid JSON: \(error)")
        }
        enabled = document.enabled ?? false
        users = try Self.unique(document.users ?? [], kind: "users", name: \.name).map { entry in
            User(name: entry.name, roles: Array(Set(entry.roles)), passwordHash: entry.passwordHash, noPassword: entry.passwordHash == nil)
        }
        roles = try Self.unique(document.roles ?? [], kind: "roles", name: \.name).map { entry in
            Role(name: entry.name, permissions: entry.permissions.sorted { $0.key.lexicographicallyPrecedes($1.key) })
        }
    }

    /// Reads and parses the file at `path`.
    public static func read(path: String) throws(AuthFileProblem) -> AuthFile {
        let contents: Data
        do {
            contents = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw AuthFileProblem("cannot read it: \((error as NSError).localizedDescription)")
        }
        return try AuthFile(json: contents)
    }

    /// The entries sorted by name, or the problem of the first name that is repeated.
    private static func unique<Entry>(_ entries: [Entry], kind: String, name: (Entry) -> String) throws(AuthFileProblem) -> [Entry] {
        var seen: Set<String> = []
        for (index, entry) in entries.enumerated() where !seen.insert(name(entry)).inserted {
            throw AuthFileProblem("\(kind)[\(index)]: a second entry named \(name(entry).debugDescription)")
        }
        return entries.sorted { Array(name($0).utf8).lexicographicallyPrecedes(Array(name($1).utf8)) }
    }
}

/// What is wrong with an auth file, in one line (the backend prints it and exits, or logs it and keeps its
/// last good state).
public struct AuthFileProblem: Error, Sendable, Hashable, CustomStringConvertible {
    public let description: String

    init(_ description: String) {
        self.description = description
    }

    /// A decoding error as "where: what", with the JSON path written `users[1].roles`.
    init(_ error: DecodingError) {
        func path(_ codingPath: [any CodingKey]) -> String {
            codingPath.reduce(into: "") { text, key in
                if let index = key.intValue { text += "[\(index)]" } else { text += (text.isEmpty ? "" : ".") + key.stringValue }
            }
        }
        func located(_ codingPath: [any CodingKey], _ problem: String) -> String {
            codingPath.isEmpty ? problem : "\(path(codingPath)): \(problem)"
        }
        switch error {
        case .typeMismatch(let type, let context):
            description = located(context.codingPath, "expected \(Self.jsonName(of: type))")
        case .valueNotFound(let type, let context):
            description = located(context.codingPath, "expected \(Self.jsonName(of: type)), found null")
        case .keyNotFound(let key, let context):
            description = located(context.codingPath + [key], "missing")
        case .dataCorrupted(let context) where context.codingPath.isEmpty:
            // Every rule of the format has a place in the document; only a syntax error has none.
            let cause = context.underlyingError.map { "\($0)" } ?? context.debugDescription
            description = "not valid JSON: " + cause.split(whereSeparator: \.isNewline).joined(separator: " ")
        case .dataCorrupted(let context):
            description = located(context.codingPath, context.debugDescription)
        @unknown default:
            description = "\(error)"
        }
    }

    private static func jsonName(of type: Any.Type) -> String {
        switch type {
        case is Bool.Type: "true or false"
        case is String.Type: "a string"
        case is [Any].Type: "an array"
        default: "an object"
        }
    }
}

// MARK: The JSON document

/// A key of any name, so that unknown keys are seen (and refused: a misspelt `enabled` must not leave
/// auth off silently).
private struct AnyKey: CodingKey {
    let stringValue: String
    let intValue: Int? = nil
    init(_ name: String) { stringValue = name }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

extension KeyedDecodingContainer where Key == AnyKey {
    /// Refuses keys other than `known`.
    fileprivate func expectOnly(_ known: Set<String>) throws {
        if let unknown = allKeys.first(where: { !known.contains($0.stringValue) }) {
            throw DecodingError.dataCorruptedError(
                forKey: unknown, in: self, debugDescription: "unknown key (expected \(known.sorted().joined(separator: ", ")))")
        }
    }

    fileprivate func nonEmptyString(_ name: String) throws -> String {
        let value = try decode(String.self, forKey: AnyKey(name))
        guard !value.isEmpty else { throw DecodingError.dataCorruptedError(forKey: AnyKey(name), in: self, debugDescription: "must not be empty") }
        return value
    }
}

private struct Document: Decodable {
    let enabled: Bool?
    let users: [UserEntry]?
    let roles: [RoleEntry]?

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: AnyKey.self)
        try container.expectOnly(["enabled", "users", "roles"])
        enabled = try container.decodeIfPresent(Bool.self, forKey: AnyKey("enabled"))
        users = try container.decodeIfPresent([UserEntry].self, forKey: AnyKey("users"))
        roles = try container.decodeIfPresent([RoleEntry].self, forKey: AnyKey("roles"))
    }
}

private struct UserEntry: Decodable {
    let name: String
    /// Nil for a `no_password` user.
    let passwordHash: PasswordHash?
    let roles: [String]

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: AnyKey.self)
        try container.expectOnly(["name", "password_hash", "no_password", "roles"])
        name = try container.nonEmptyString("name")
        roles = try container.decodeIfPresent([String].self, forKey: AnyKey("roles")) ?? []
        let noPassword = try container.decodeIfPresent(Bool.self, forKey: AnyKey("no_password")) ?? false
        let encoded = try container.decodeIfPresent(String.self, forKey: AnyKey("password_hash"))
        switch (encoded, noPassword) {
        case (nil, true):
            passwordHash = nil
        case (let encoded?, false):
            guard let hash = PasswordHash(encoded: encoded) else {
                throw DecodingError.dataCorruptedError(
                    forKey: AnyKey("password_hash"), in: container, debugDescription: "not a bcrypt hash ($2a$, $2b$ or $2y$, 60 characters)")
            }
            passwordHash = hash
        default:
            throw DecodingError.dataCorruptedError(
                forKey: AnyKey("name"), in: container,
                debugDescription: "\(name.debugDescription) needs exactly one of password_hash and \"no_password\": true")
        }
    }
}

private struct RoleEntry: Decodable {
    let name: String
    let permissions: [Permission]

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: AnyKey.self)
        try container.expectOnly(["name", "permissions"])
        name = try container.nonEmptyString("name")
        permissions = try container.decodeIfPresent([PermissionEntry].self, forKey: AnyKey("permissions"))?.map(\.permission) ?? []
    }
}

private struct PermissionEntry: Decodable {
    let permission: Permission

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: AnyKey.self)
        try container.expectOnly(["type", "key", "range_end"])
        let types: [String: PermissionType] = ["READ": .read, "WRITE": .write, "READWRITE": .readWrite]
        guard let type = types[try container.decode(String.self, forKey: AnyKey("type"))] else {
            throw DecodingError.dataCorruptedError(forKey: AnyKey("type"), in: container, debugDescription: "expected READ, WRITE or READWRITE")
        }
        let key = try container.nonEmptyString("key")
        let rangeEnd = try container.decodeIfPresent(String.self, forKey: AnyKey("range_end")) ?? ""
        permission = Permission(type, key: Array(key.utf8), rangeEnd: Array(rangeEnd.utf8))
    }
}
