import Crypto
import Foundation
import JWTKit

/// The key behind `--auth-token jwt,...`, parsed from the PEM files as etcd parses them: a private key to
/// sign and verify, or a public key alone to verify only. Whoever verifies tokens without the private key
/// (a gateway) builds one from ``verification`` instead.
public struct JWTKeys: Sendable, CustomStringConvertible, CustomReflectable {
    private enum Key: Sendable {
        case rsaPrivate(JWTKit.Insecure.RSA.PrivateKey)
        case rsaPublic(JWTKit.Insecure.RSA.PublicKey)
        case es256Private(ES256PrivateKey), es256Public(ES256PublicKey)
        case es384Private(ES384PrivateKey), es384Public(ES384PublicKey)
        case es512Private(ES512PrivateKey), es512Public(ES512PublicKey)
        case hmac([UInt8])
    }

    public let signMethod: JWTSignMethod
    private let key: Key

    /// Parses the key files named in the options. As in etcd, a private key wins over a public key given
    /// with it (tokens are signed with the private key and verified with its public half), and a method
    /// without any key is `auth: missing key data`.
    public init(_ options: JWTOptions) throws(AuthTokenOptionsError) {
        try self.init(signMethod: options.signMethod, privateKeyPEM: options.privateKeyPEM, publicKeyPEM: options.publicKeyPEM)
    }

    /// A verify-only key from what a backend publishes in its permission snapshot.
    public init(verification: TokenVerification) throws(AuthTokenOptionsError) {
        guard let method = JWTSignMethod(rawValue: verification.signMethod), method.isAsymmetric else {
            throw AuthTokenOptionsError(message: "auth: invalid auth signature method")
        }
        try self.init(signMethod: method, privateKeyPEM: nil, publicKeyPEM: Array(verification.publicKeyPEM.utf8))
    }

    private init(signMethod: JWTSignMethod, privateKeyPEM: [UInt8]?, publicKeyPEM: [UInt8]?) throws(AuthTokenOptionsError) {
        self.signMethod = signMethod
        let privatePEM = privateKeyPEM.flatMap { $0.isEmpty ? nil : $0 }
        let publicPEM = publicKeyPEM.flatMap { $0.isEmpty ? nil : $0 }
        if signMethod == .unsecured {
            throw AuthTokenOptionsError(message: "unsupported signing method: *jwt.signingMethodNone")
        }
        guard privatePEM != nil || (signMethod.isAsymmetric && publicPEM != nil) else {
            throw AuthTokenOptionsError(message: "auth: missing key data")
        }
        key = try Self.parse(signMethod, privatePEM: privatePEM, publicPEM: publicPEM)
    }

    private static func parse(_ method: JWTSignMethod, privatePEM: [UInt8]?, publicPEM: [UInt8]?) throws(AuthTokenOptionsError) -> Key {
        func attempt<T>(_ failure: String, _ make: () throws -> T) throws(AuthTokenOptionsError) -> T {
            do { return try make() } catch { throw AuthTokenOptionsError(message: failure) }
        }
        switch (method, privatePEM) {
        case (.rs256, let pem?), (.rs384, let pem?), (.rs512, let pem?), (.ps256, let pem?), (.ps384, let pem?), (.ps512, let pem?):
            return .rsaPrivate(try attempt("x509: failed to parse private key") { try JWTKit.Insecure.RSA.PrivateKey(pem: pem) })
        case (.rs256, nil), (.rs384, nil), (.rs512, nil), (.ps256, nil), (.ps384, nil), (.ps512, nil):
            return .rsaPublic(try attempt("key is not a valid RSA public key") { try JWTKit.Insecure.RSA.PublicKey(pem: publicPEM ?? []) })
        case (.es256, let pem?):
            return .es256Private(try attempt(notECPrivate) { try ES256PrivateKey(pem: pem) })
        case (.es256, nil):
            return .es256Public(try attempt(notECPublic) { try ES256PublicKey(pem: publicPEM ?? []) })
        case (.es384, let pem?):
            return .es384Private(try attempt(notECPrivate) { try ES384PrivateKey(pem: pem) })
        case (.es384, nil):
            return .es384Public(try attempt(notECPublic) { try ES384PublicKey(pem: publicPEM ?? []) })
        case (.es512, let pem?):
            return .es512Private(try attempt(notECPrivate) { try ES512PrivateKey(pem: pem) })
        case (.es512, nil):
            return .es512Public(try attempt(notECPublic) { try ES512PublicKey(pem: publicPEM ?? []) })
        case (.hs256, let pem?), (.hs384, let pem?), (.hs512, let pem?):
            return .hmac(pem)
        case (.hs256, nil), (.hs384, nil), (.hs512, nil), (.unsecured, _):
            throw AuthTokenOptionsError(message: "auth: missing key data")
        }
    }

    private static let notECPrivate = "Key is not a valid ECDSA private key"
    private static let notECPublic = "Key is not a valid ECDSA public key"

    /// Never shows the key.
    public var description: String { "JWTKeys(\(signMethod.rawValue), \(canSign ? "private key" : "public key only"))" }

    public var customMirror: Mirror { Mirror(self, children: ["signMethod": signMethod, "canSign": canSign]) }

    /// Whether tokens can be issued: etcd's verify-only mode is a public key without a private one.
    public var canSign: Bool {
        switch key {
        case .rsaPrivate, .es256Private, .es384Private, .es512Private, .hmac: true
        case .rsaPublic, .es256Public, .es384Public, .es512Public: false
        }
    }

    /// What another process needs to verify these tokens without a round trip: the method and the public
    /// key as PEM. Nil for the HMAC methods, whose key is a shared secret that stays with its owner.
    public var verification: TokenVerification? {
        let pem: String? =
            switch key {
            case .rsaPrivate(let key): key.publicKey.pemRepresentation
            case .rsaPublic(let key): key.pemRepresentation
            case .es256Private(let key): key.publicKey.pemRepresentation
            case .es256Public(let key): key.pemRepresentation
            case .es384Private(let key): key.publicKey.pemRepresentation
            case .es384Public(let key): key.pemRepresentation
            case .es512Private(let key): key.publicKey.pemRepresentation
            case .es512Public(let key): key.pemRepresentation
            case .hmac: nil
            }
        return pem.map { TokenVerification(signMethod: signMethod.rawValue, publicKeyPEM: $0) }
    }

    /// The key ready to sign (when ``canSign``) and verify tokens.
    public func codec() async throws(AuthTokenOptionsError) -> JWTTokenCodec {
        let collection = JWTKeyCollection()
        switch key {
        case .rsaPrivate(let key):
            await add(rsa: key, to: collection)
        case .rsaPublic(let key):
            await add(rsa: key, to: collection)
        case .es256Private(let key): await collection.add(ecdsa: key)
        case .es256Public(let key): await collection.add(ecdsa: key)
        case .es384Private(let key): await collection.add(ecdsa: key)
        case .es384Public(let key): await collection.add(ecdsa: key)
        case .es512Private(let key): await collection.add(ecdsa: key)
        case .es512Public(let key): await collection.add(ecdsa: key)
        case .hmac(let secret):
            // etcd takes a secret of any length; JWTKit's HMAC wants one at least as long as the hash.
            return JWTTokenCodec(keys: self, algorithm: HMACAlgorithm(method: signMethod, secret: secret))
        }
        do {
            return JWTTokenCodec(keys: self, algorithm: try await collection.getKey())
        } catch {
            throw AuthTokenOptionsError(message: "auth: missing key data", cause: "\(error)")
        }
    }

    private func add(rsa key: some RSAKey, to collection: JWTKeyCollection) async {
        switch signMethod {
        case .ps256, .ps384, .ps512: await collection.add(pss: key, digestAlgorithm: digest)
        default: await collection.add(rsa: key, digestAlgorithm: digest)
        }
    }

    private var digest: DigestAlgorithm {
        switch signMethod {
        case .rs384, .ps384, .es384, .hs384: .sha384
        case .rs512, .ps512, .es512, .hs512: .sha512
        default: .sha256
        }
    }
}

/// HS256/384/512 with a secret of any length, as etcd accepts.
private struct HMACAlgorithm: JWTAlgorithm {
    let method: JWTSignMethod
    let key: SymmetricKey

    init(method: JWTSignMethod, secret: [UInt8]) {
        self.method = method
        key = SymmetricKey(data: secret)
    }

    var name: String { method.rawValue }

    func sign(_ plaintext: some DataProtocol) throws -> [UInt8] {
        switch method {
        case .hs384: Array(HMAC<SHA384>.authenticationCode(for: plaintext, using: key))
        case .hs512: Array(HMAC<SHA512>.authenticationCode(for: plaintext, using: key))
        default: Array(HMAC<SHA256>.authenticationCode(for: plaintext, using: key))
        }
    }

    func verify(_ signature: some DataProtocol, signs plaintext: some DataProtocol) throws -> Bool {
        let signature = Array(signature)
        return switch method {
        case .hs384: HMAC<SHA384>.isValidAuthenticationCode(signature, authenticating: plaintext, using: key)
        case .hs512: HMAC<SHA512>.isValidAuthenticationCode(signature, authenticating: plaintext, using: key)
        default: HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: plaintext, using: key)
        }
    }
}

/// How to verify a backend's tokens without asking it: the JWT sign method (`RS256`, `ES256`, ...) and
/// the public key in PEM. Published in the permission snapshot (docs/auth-plugins.md).
public struct TokenVerification: Sendable, Hashable {
    public let signMethod: String
    public let publicKeyPEM: String

    public init(signMethod: String, publicKeyPEM: String) {
        self.signMethod = signMethod
        self.publicKeyPEM = publicKeyPEM
    }
}
