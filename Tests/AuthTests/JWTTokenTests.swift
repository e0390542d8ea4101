import Auth
import AuthStorage
import Foundation
import JWTKit
import Synchronization
import Testing

/// Tokens etcd 3.4.23 issued for `root` at auth revision 3 with `--auth-token
/// jwt,pub-key=…,priv-key=…,sign-method=…,ttl=876000h` (so they expire in 2126), and the public keys.
private enum EtcdMade {
    static let rsaPublicKey = """
        -----BEGIN PUBLIC KEY-----
        MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAv+VHj2UQ5QTgNkSgQIZB
        osAkytdJ3yfSVoJWOqmfIgyAnQdqJ0sh1xoUSDGZvPHjYAmOgJh9J9pAH++I/aCi
        wKxXdrSi27jaocxy8rKjx2oPno/yGd/ESSJWUor9EVe8Hje9/6YWic7fT3oslN/w
        v5IDCL8AcuYHfo8ttfksPHvpqYD5kdKh/S4GxrO13LGoIdTS6GuTXU30tFakQn1y
        4xduH+BUe+ijKDD5cYT0zEkCnLBhkwgGsVaSZgrMzeWJRSMkriQTuodK4B4wngZA
        f5YqfieKrKlVFcG7ypkYOuwdCrlQXIpN7yCpFf160rNU+Pi14Gojp46MQjccD+0m
        lQIDAQAB
        -----END PUBLIC KEY-----
        """
    static let ecPublicKey = """
        -----BEGIN PUBLIC KEY-----
        MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEY87fDAZYJk80LcvYa8qMCMSZvE1u
        YAigvWTYKhIDg+VZq2/vJneR0hbfksrx0hff0ajuM48SaATZDrWV/7Pwdw==
        -----END PUBLIC KEY-----
        """
    static let rs256 =
        "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJleHAiOjQ5NDg4ODcwOTksInJldmlzaW9uIjozLCJ1c2VybmFtZSI6InJvb3QifQ.rANBBi-oxQw3SF9o1az_UTvzxmWfDF502wMIYm7YPoHhzoIImjrbvhzvF8mdpQA6dxJckS_UTsIMEmW6V5o-IjE6VAXVe_Y-43oMUs84s8WsTx-Jpaoo3RgsbwecQ2Sf87OGiFtxhhC6YCOs1zNjEWOUYuxbmqKXgklvYDSv9XKy8WaCsahjabUk3hw3wbMM4aULy2elgD1BAQiRC8_qPvI6Pxlz6tmuiiuLMKR--NxEWoZQzgKEqzXjU5bD1MH47KHxCw0h9lqFzqo2gVvVkuN1XIIPeco77CiYzDEDXycEH2LuwhYlvTbwvJz8_aNx5f8VuRVWR8AvkkKSrKFHbg"
    static let ps256 =
        "eyJhbGciOiJQUzI1NiIsInR5cCI6IkpXVCJ9.eyJleHAiOjQ5NDg4ODcxMDEsInJldmlzaW9uIjozLCJ1c2VybmFtZSI6InJvb3QifQ.nbUvhaOXfpD2T7nGDcR49RIsQZ229uJwJyZUdjYKzasnEzmimxU6IYsWTXFIM53VWkdJNF0e0f98yT14a4yawTrXYbvzQWjYInkyRDLufUqIOSTSzJ-JXrr8swrq9kIPmHIvq3I-G5cosqNxorZZTm4dtEUUe-aS0u1BbCL-dSmBrsoQcRRl9uQngIERfUqO4u53ryt-tS448qEgrBJ-GMP1LFlHbh2IcqjHvPdmZCINGTdjvPY9NZNgsNDEaVLrAgHUwF3YLQ9L99XLZu45jvsCpiANYqo8IUgVCxHiDTKe9wweJfSkpJClH4UAZ6GP1nGi7nCBpEndoacyLGCnPA"
    static let es256 =
        "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9.eyJleHAiOjQ5NDg4ODcxMDMsInJldmlzaW9uIjozLCJ1c2VybmFtZSI6InJvb3QifQ.z0Pd1Jnmu2hZXdqEYkDwngtbQpJ23qC2K01IPSLLKPG1pfwegrZR_MxoYoKIDioHC86cG0TBqy4QBX8FKDmPaw"
}

private func verifier(_ method: String, _ publicKey: String) async throws -> JWTTokenCodec {
    try await JWTKeys(verification: TokenVerification(signMethod: method, publicKeyPEM: publicKey)).codec()
}

private func jwtOptions(_ text: String) throws -> JWTOptions {
    guard case .jwt(let options) = try AuthTokenOptions.parse(text).kind else {
        Issue.record("not jwt: \(text)")
        throw AuthTokenOptionsError(message: "not jwt")
    }
    return options
}

/// Writes `contents` to a new file in a temporary directory and returns its path.
private func keyFile(_ contents: String) throws -> String {
    let path = try temporaryDirectory() + "/key.pem"
    try contents.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

@Suite("--auth-token and JWT tokens")
struct JWTTokenTests {
    private let now = Date(timeIntervalSince1970: 1_800_000_000)

    @Test("--auth-token is read as etcd 3.4 reads it, with etcd's errors")
    func optionParsing() throws {
        #expect(try AuthTokenOptions.parse("simple") == .simple)
        #expect(try AuthTokenOptions.parse("simple,ttl=1s") == .simple, "etcd ignores options of simple")
        let invalid = "auth: invalid auth options"
        let refusals: [(String, String)] = [
            ("bogus", "unknown token type: bogus"),
            ("simple,foo", "invalid token specific option: simple,foo"),
            ("jwt,ttl=1s,ttl=2s", "invalid token specific option, duplicated parameters (ttl): jwt,ttl=1s,ttl=2s"),
            ("jwt", "problem loading JWT options: auth: invalid auth signature method"),
            ("jwt,sign-method=XX256", "problem loading JWT options: auth: invalid auth signature method"),
            ("jwt,sign-method=RS256,ttl=bad", "problem loading JWT options: time: invalid duration \"bad\""),
            ("jwt,sign-method=RS256,priv-key=/nonexistent/key", "problem loading JWT options: open /nonexistent/key: no such file or directory"),
        ]
        for (text, cause) in refusals {
            #expect(throws: AuthTokenOptionsError(message: invalid, cause: cause), "\(text)") { try AuthTokenOptions.parse(text) }
        }
        let options = try AuthTokenOptions.parse("jwt,sign-method=ES256,foo=bar")
        #expect(options.unknownOptions == ["foo"])
        guard case .jwt(let jwt) = options.kind else { Issue.record("not jwt"); return }
        #expect(jwt.ttl == .seconds(300), "etcd's default JWT TTL is 5 minutes")
        #expect(try jwtOptions("jwt,sign-method=ES256,ttl=1h30m").ttl == .seconds(5400))
    }

    @Test("keys: missing, of the wrong kind, or method none stop etcd with these errors")
    func keyErrors() throws {
        #expect(throws: AuthTokenOptionsError(message: "auth: missing key data")) { try JWTKeys(jwtOptions("jwt,sign-method=RS256")) }
        let ecPublic = try keyFile(EtcdMade.ecPublicKey)
        #expect(throws: AuthTokenOptionsError(message: "key is not a valid RSA public key")) {
            try JWTKeys(jwtOptions("jwt,sign-method=RS256,pub-key=\(ecPublic)"))
        }
        #expect(throws: AuthTokenOptionsError(message: "unsupported signing method: *jwt.signingMethodNone")) {
            try JWTKeys(jwtOptions("jwt,sign-method=none,pub-key=\(ecPublic)"))
        }
        let verifyOnly = try JWTKeys(jwtOptions("jwt,sign-method=ES256,pub-key=\(ecPublic)"))
        #expect(!verifyOnly.canSign)
        #expect(verifyOnly.verification?.signMethod == "ES256")
    }

    @Test("tokens etcd made verify here with its public key, claims intact")
    func etcdTokensVerify() async throws {
        let expected = JWTTokenCodec.Claims(username: "root", revision: 3, exp: nil)
        for (method, key, token) in [
            ("RS256", EtcdMade.rsaPublicKey, EtcdMade.rs256), ("PS256", EtcdMade.rsaPublicKey, EtcdMade.ps256),
            ("ES256", EtcdMade.ecPublicKey, EtcdMade.es256),
        ] {
            let claims = try #require(try await verifier(method, key).verify(token, now: now), "\(method)")
            #expect(claims.authInfo == expected.authInfo)
            #expect(claims.exp.map { $0 > 4_900_000_000 } == true)
        }
    }

    @Test("a token is refused when tampered with, made for another method or expired")
    func refusals() async throws {
        let rsa = try await verifier("RS256", EtcdMade.rsaPublicKey)
        var parts = EtcdMade.rs256.split(separator: ".").map(String.init)
        let forged = JWTTokenCodecTestSupport.base64URL(#"{"exp":4948887099,"revision":99,"username":"root"}"#)
        #expect(rsa.verify([parts[0], forged, parts[2]].joined(separator: "."), now: now) == nil, "changed claims")
        #expect(try await verifier("PS256", EtcdMade.rsaPublicKey).verify(EtcdMade.rs256, now: now) == nil, "alg is not PS256")
        #expect(try await verifier("ES256", EtcdMade.ecPublicKey).verify(EtcdMade.rs256, now: now) == nil)
        #expect(rsa.verify("not a token", now: now) == nil)
        #expect(rsa.verify("a.b.c", now: now) == nil)
        parts[2] = String(parts[2].reversed())
        #expect(rsa.verify(parts.joined(separator: "."), now: now) == nil, "bad signature")
        // exp 4948887099: valid through that second (Go's now <= exp), not after.
        #expect(rsa.verify(EtcdMade.rs256, now: Date(timeIntervalSince1970: 4_948_887_099.9)) != nil)
        #expect(rsa.verify(EtcdMade.rs256, now: Date(timeIntervalSince1970: 4_948_887_100)) == nil)
    }

    @Test("tokens made here carry etcd's claims and verify with the public key alone", arguments: ["ES256", "ES384", "ES512"])
    func roundTrip(method: String) async throws {
        let privateKey: String =
            switch method {
            case "ES384": ES384PrivateKey().pemRepresentation
            case "ES512": ES512PrivateKey().pemRepresentation
            default: ES256PrivateKey().pemRepresentation
            }
        let keys = try JWTKeys(jwtOptions("jwt,sign-method=\(method),priv-key=\(try keyFile(privateKey)),ttl=10s"))
        let clock = WallClock(now)
        let provider = JWTTokenProvider(codec: try await keys.codec(), ttl: .seconds(10), wallClock: clock.read)
        let token = try provider.assign(user: "alice", revision: 7, now: .now)
        let payload = try #require(JWTTokenCodecTestSupport.payload(of: token))
        #expect(payload == #"{"exp":1800000010,"revision":7,"username":"alice"}"#, "etcd's claims, etcd's JSON")
        let publicOnly = try await verifier(method, try #require(provider.verification).publicKeyPEM)
        #expect(publicOnly.verify(token, now: now)?.authInfo == AuthInfo(user: "alice", revision: 7))
        #expect(provider.info(token: token, currentRevision: 99, now: .now) == AuthInfo(user: "alice", revision: 7),
                "the token's own revision, not the store's")
        clock.set(now + 11)
        #expect(provider.info(token: token, currentRevision: 99, now: .now) == nil, "expired after the ttl")
    }

    @Test("HMAC keys sign and verify but are never published")
    func hmac() async throws {
        let keys = try JWTKeys(jwtOptions("jwt,sign-method=HS256,priv-key=\(try keyFile("a shared secret"))"))
        #expect(keys.verification == nil)
        let provider = JWTTokenProvider(codec: try await keys.codec(), ttl: .seconds(60))
        let token = try provider.assign(user: "bob", revision: 2, now: .now)
        #expect(provider.info(token: token, currentRevision: 2, now: .now) == AuthInfo(user: "bob", revision: 2))
    }

    @Test("a verify-only provider refuses to issue tokens (etcd's ErrVerifyOnly)")
    func verifyOnly() async throws {
        let keys = try JWTKeys(jwtOptions("jwt,sign-method=RS256,pub-key=\(try keyFile(EtcdMade.rsaPublicKey))"))
        let provider = JWTTokenProvider(codec: try await keys.codec(), ttl: .seconds(60), wallClock: { Date(timeIntervalSince1970: 1_800_000_000) })
        #expect(throws: AuthError.verifyOnly) { try provider.assign(user: "root", revision: 1, now: .now) }
        #expect(provider.info(token: EtcdMade.rs256, currentRevision: 1, now: .now) == AuthInfo(user: "root", revision: 3))
    }

    @Test("with JWTs a token minted before an auth change is refused after it (auth.old_revision)")
    func oldRevision() async throws {
        let keys = try JWTKeys(jwtOptions("jwt,sign-method=ES256,priv-key=\(try keyFile(ES256PrivateKey().pemRepresentation))"))
        let store = try makeEnabledStore(tokens: JWTTokenProvider(codec: try await keys.codec(), ttl: .seconds(300)))
        try store.addUser(name: "alice", password: "pw")
        try store.addRole(name: "reader")
        try store.grantPermission(Permission(.read, key: bytes("a"), rangeEnd: bytes("z")), to: "reader")
        try store.grantRole("reader", to: "alice")
        let token = try store.authenticate(name: "alice", password: "pw", now: .now)
        let before = try store.authInfo(token: token, now: .now)
        try store.check(reading(bytes("k"), []), before)
        try store.addRole(name: "other")
        let after = try store.authInfo(token: token, now: .now)
        #expect(after == before, "the token still verifies and names its revision")
        #expect(throws: AuthError.oldRevision) { try store.check(reading(bytes("k"), []), after) }
        let fresh = try store.authInfo(token: try store.authenticate(name: "alice", password: "pw", now: .now), now: .now)
        try store.check(reading(bytes("k"), []), fresh)
    }
}

/// A wall clock tests set.
private final class WallClock: Sendable {
    private let now: Mutex<Date>

    init(_ start: Date) { now = Mutex(start) }

    func set(_ date: Date) { now.withLock { $0 = date } }

    var read: @Sendable () -> Date { { [self] in now.withLock { $0 } } }
}

private enum JWTTokenCodecTestSupport {
    static func base64URL(_ text: String) -> String {
        Data(text.utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func payload(of token: String) -> String? {
        let parts = token.split(separator: ".")
        guard parts.count == 3 else { return nil }
        var base64 = parts[1].replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        return Data(base64Encoded: base64).map { String(decoding: $0, as: UTF8.self) }
    }
}
