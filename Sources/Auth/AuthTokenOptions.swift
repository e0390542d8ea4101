import Foundation
import ServiceSupport

/// etcd's `--auth-token`: `simple` (the default), or `jwt,sign-method=…,pub-key=…,priv-key=…,ttl=…`, read
/// exactly as etcd 3.4 reads it, so a command line etcd starts with starts Etcetera the same way and one
/// etcd refuses is refused with the same message. Reading the JWT options reads the key files (as etcd
/// does); the keys are parsed by ``JWTKeys``.
public struct AuthTokenOptions: Sendable, Equatable, CustomStringConvertible, CustomReflectable {
    public enum Kind: Sendable, Equatable {
        /// Random tokens kept by the auth service, renewed on use (`--auth-token-ttl`).
        case simple
        /// Signed JSON Web Tokens carrying the user and the auth revision.
        case jwt(JWTOptions)
    }

    public let kind: Kind
    /// Options etcd ignores with a warning (`unknown JWT options: [...]`).
    public let unknownOptions: [String]

    /// The etcd default, `simple`.
    public static let simple = AuthTokenOptions(kind: .simple, unknownOptions: [])

    private init(kind: Kind, unknownOptions: [String]) {
        self.kind = kind
        self.unknownOptions = unknownOptions
    }

    /// Reads an `--auth-token` value. Like etcd: the text before the first comma is the type; every other
    /// comma-separated part must be one `name=value`, no name twice; `simple` ignores its options; an
    /// empty type is taken as `simple` (etcd then issues no tokens at all).
    public static func parse(_ text: String) throws(AuthTokenOptionsError) -> AuthTokenOptions {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        var options: [String: String] = [:]
        var order: [String] = []
        for part in parts.dropFirst() {
            let pair = part.split(separator: "=", omittingEmptySubsequences: false)
            guard pair.count == 2 else {
                throw .invalidOptions(cause: "invalid token specific option: \(text)")
            }
            let name = String(pair[0])
            guard options[name] == nil else {
                throw .invalidOptions(cause: "invalid token specific option, duplicated parameters (\(name)): \(text)")
            }
            options[name] = String(pair[1])
            order.append(name)
        }
        switch parts[0] {
        case "simple", "":
            return .simple
        case "jwt":
            let jwt = try JWTOptions(options)
            return AuthTokenOptions(kind: .jwt(jwt), unknownOptions: order.filter { !JWTOptions.knownNames.contains($0) })
        default:
            throw .invalidOptions(cause: "unknown token type: \(parts[0])")
        }
    }

    /// Never shows key material.
    public var description: String {
        switch kind {
        case .simple: "simple"
        case .jwt(let options): "jwt (\(options))"
        }
    }

    public var customMirror: Mirror { Mirror(self, children: ["kind": description, "unknownOptions": unknownOptions]) }
}

/// The JWT part of `--auth-token`: which algorithm, which key files (their contents, read once), how long
/// a token is valid.
public struct JWTOptions: Sendable, Equatable, CustomStringConvertible, CustomReflectable {
    static let knownNames: Set<String> = ["sign-method", "pub-key", "priv-key", "ttl"]

    public let signMethod: JWTSignMethod
    /// `pub-key`: the PEM file's bytes; enough to verify (a verify-only provider issues no tokens).
    public let publicKeyPEM: [UInt8]?
    /// `priv-key`: the PEM file's bytes (for the HS methods, the secret itself).
    public let privateKeyPEM: [UInt8]?
    /// `ttl`, a Go duration; 5 minutes when not given. Zero or negative: tokens are expired when issued,
    /// as in etcd.
    public let ttl: Duration

    /// In etcd's order: the TTL, the public key file, the private key file, the sign method.
    init(_ options: [String: String]) throws(AuthTokenOptionsError) {
        if let text = options["ttl"], !text.isEmpty {
            guard let ttl = GoDuration.parse(text) else {
                throw .invalidOptions(cause: "problem loading JWT options: time: invalid duration \"\(text)\"")
            }
            self.ttl = ttl
        } else {
            ttl = .seconds(300)
        }
        publicKeyPEM = try Self.read(options["pub-key"])
        privateKeyPEM = try Self.read(options["priv-key"])
        guard let method = JWTSignMethod(rawValue: options["sign-method"] ?? "") else {
            throw .invalidOptions(cause: "problem loading JWT options: auth: invalid auth signature method")
        }
        signMethod = method
    }

    private static func read(_ path: String?) throws(AuthTokenOptionsError) -> [UInt8]? {
        guard let path, !path.isEmpty else { return nil }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            let reason = String(cString: strerror(errno)).lowercased()
            throw .invalidOptions(cause: "problem loading JWT options: open \(path): \(reason)")
        }
        defer { try? handle.close() }
        do {
            return Array(try handle.readToEnd() ?? Data())
        } catch {
            throw .invalidOptions(cause: "problem loading JWT options: read \(path): \(error)")
        }
    }

    /// Never shows key material.
    public var description: String {
        "sign-method \(signMethod.rawValue), ttl \(ttl), public key \(publicKeyPEM == nil ? "no" : "yes"), private key \(privateKeyPEM == nil ? "no" : "yes")"
    }

    public var customMirror: Mirror {
        Mirror(self, children: ["signMethod": signMethod, "ttl": ttl, "hasPublicKey": publicKeyPEM != nil, "hasPrivateKey": privateKeyPEM != nil])
    }
}

/// The `sign-method` values etcd 3.4 accepts (those of its JWT library): RSA PKCS#1 v1.5, RSA-PSS, ECDSA
/// and HMAC. `none` is recognised and refused, as etcd refuses it.
public enum JWTSignMethod: String, Sendable, CaseIterable {
    case rs256 = "RS256", rs384 = "RS384", rs512 = "RS512"
    case ps256 = "PS256", ps384 = "PS384", ps512 = "PS512"
    case es256 = "ES256", es384 = "ES384", es512 = "ES512"
    case hs256 = "HS256", hs384 = "HS384", hs512 = "HS512"
    case unsecured = "none"

    /// Whether tokens can be verified with a public key alone (everything but HMAC).
    public var isAsymmetric: Bool {
        switch self {
        case .hs256, .hs384, .hs512, .unsecured: false
        default: true
        }
    }
}

/// Why an `--auth-token` value cannot be used. `message` is the error etcd stops with (`auth: invalid
/// auth options`, `auth: missing key data`, ...); `cause`, when etcd logs one before, says what exactly
/// was wrong.
public struct AuthTokenOptionsError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public let cause: String?

    public init(message: String, cause: String? = nil) {
        self.message = message
        self.cause = cause
    }

    static func invalidOptions(cause: String) -> AuthTokenOptionsError {
        AuthTokenOptionsError(message: "auth: invalid auth options", cause: cause)
    }

    public var description: String {
        cause.map { "\(message) (\($0))" } ?? message
    }
}
