import Foundation
import JWTKit

/// etcd's JWT tokens: a JWS in compact form whose header names the sign method and whose claims are
/// `username`, `revision` (the auth revision at Authenticate) and `exp` (Unix seconds), signed with the
/// configured key. A token made here verifies wherever etcd's verify, and the other way round, for the
/// same key. Stateless and thread-safe: the auth service signs with it, a gateway verifies with it.
public struct JWTTokenCodec: Sendable, CustomStringConvertible, CustomReflectable {
    public let signMethod: JWTSignMethod
    /// False for a public key alone (etcd's verify-only mode): ``sign(_:)`` then fails.
    public let canSign: Bool
    /// What to publish so that others verify without the private key (nil for the HMAC methods).
    public let verification: TokenVerification?
    private let algorithm: any JWTAlgorithm

    init(keys: JWTKeys, algorithm: any JWTAlgorithm) {
        signMethod = keys.signMethod
        canSign = keys.canSign
        verification = keys.verification
        self.algorithm = algorithm
    }

    /// Never shows the key.
    public var description: String { "JWT \(signMethod.rawValue)\(canSign ? "" : " (verify only)")" }

    public var customMirror: Mirror { Mirror(self, children: ["signMethod": signMethod, "canSign": canSign]) }

    /// What a verified token says.
    public struct Claims: Sendable, Hashable, Codable {
        public let username: String
        public let revision: UInt64
        /// Unix seconds after which the token is invalid; etcd always sets it, but accepts tokens without.
        public let exp: Int64?

        public init(username: String, revision: UInt64, exp: Int64?) {
            self.username = username
            self.revision = revision
            self.exp = exp
        }

        /// The request's identity, as the permission checks take it.
        public var authInfo: AuthInfo { AuthInfo(user: username, revision: revision) }

        /// Valid up to and including the second `exp` (Go's `now <= exp`).
        public func isExpired(at now: Date) -> Bool {
            guard let exp else { return false }
            return Int64(now.timeIntervalSince1970.rounded(.down)) > exp
        }
    }

    private struct Header: Codable {
        let alg: String
        var typ: String?
    }

    /// A signed token for the claims; fails for a verify-only key.
    public func sign(_ claims: Claims) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let header = Self.base64URL(try encoder.encode(Header(alg: signMethod.rawValue, typ: "JWT")))
        let payload = Self.base64URL(try encoder.encode(claims))
        let signingInput = header + "." + payload
        let signature = try algorithm.sign(Array(signingInput.utf8))
        return signingInput + "." + Self.base64URL(signature)
    }

    /// The claims of a token that is well formed, made with this method, correctly signed and not expired
    /// at `now`; nil otherwise (etcd: `invalid auth token`).
    public func verify(_ token: String, now: Date) -> Claims? {
        let parts = token.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 3,
            let headerBytes = Self.decodeBase64URL(parts[0]),
            let header = try? JSONDecoder().decode(Header.self, from: headerBytes),
            header.alg == signMethod.rawValue,
            let signature = Self.decodeBase64URL(parts[2]),
            let payloadBytes = Self.decodeBase64URL(parts[1]),
            let claims = try? JSONDecoder().decode(Claims.self, from: payloadBytes),
            !claims.isExpired(at: now)
        else { return nil }
        let signingInput = token.utf8.prefix(parts[0].count + 1 + parts[1].count)
        guard (try? algorithm.verify(signature, signs: Array(signingInput))) == true else { return nil }
        return claims
    }

    static func base64URL(_ bytes: some Sequence<UInt8>) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decodeBase64URL(_ text: some Collection<UInt8>) -> Data? {
        var base64 = String(decoding: text, as: UTF8.self)
            .replacingOccurrences(of: "-", with: "+")
            .replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.utf8.count % 4) % 4)
        return Data(base64Encoded: base64)
    }
}
