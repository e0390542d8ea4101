import Auth
import AuthStorage
import Testing

@Suite("Secrets stay out of descriptions")
struct SecrecyTests {
    @Test("no password, hash or token in the description, debug description or dump of any auth type")
    func descriptions() throws {
        let password = "hunter2-very-secret"
        let tokens = SimpleTokenProvider()
        let store = try makeEnabledStore(tokens: tokens)
        try store.addUser(name: "u", password: password)
        let token = try store.authenticate(name: "u", password: password, now: .now)
        let user = try store.user(named: "u")
        let hash = try #require(user.passwordHash)
        let info = try store.authInfo(token: token, now: .now)
        var errors: [AuthError] = []
        do { _ = try store.authenticate(name: "u", password: password + "x", now: .now) } catch { errors.append(error) }
        do { _ = try store.authInfo(token: token + "x", now: .now) } catch { errors.append(error) }
        do { _ = try PasswordHash.make(password: password + "\0", cost: fastCost) } catch { errors.append(error) }
        #expect(errors.count == 3)

        let subjects: [Any] = [store, tokens, user, hash, info as Any, errors, store.permissionTable]
        let secrets = [password, token, hash.encoded, String(hash.encoded.suffix(31))]
        for subject in subjects {
            var dumped = ""
            dump(subject, to: &dumped)
            for text in [String(describing: subject), String(reflecting: subject), dumped] {
                for secret in secrets {
                    #expect(!text.contains(secret), "\(type(of: subject)) shows a secret")
                }
            }
        }
        #expect(String(describing: user).contains("\"u\""), "the description still says who it is")
    }
}

extension SecrecyTests {
    @Test("no JWT signing key, HMAC secret or JWT in the description, debug description or dump of the JWT types")
    func jwtDescriptions() async throws {
        let secret = "hmac-shared-secret-that-must-stay"
        let path = try temporaryDirectory() + "/secret"
        try secret.write(toFile: path, atomically: true, encoding: .utf8)
        let options = try AuthTokenOptions.parse("jwt,sign-method=HS256,priv-key=\(path)")
        guard case .jwt(let jwt) = options.kind else { Issue.record("not jwt"); return }
        let keys = try JWTKeys(jwt)
        let codec = try await keys.codec()
        let provider = JWTTokenProvider(codec: codec, ttl: .seconds(60))
        let token = try provider.assign(user: "u", revision: 1, now: .now)
        let subjects: [Any] = [options, jwt, keys, codec, provider]
        for subject in subjects {
            var dumped = ""
            dump(subject, to: &dumped)
            for text in [String(describing: subject), String(reflecting: subject), dumped] {
                #expect(!text.contains(secret), "\(type(of: subject)) shows the secret")
                #expect(!text.contains(token), "\(type(of: subject)) shows a token")
            }
            #expect(!Self.reflectsBytes(subject), "\(type(of: subject)) shows key bytes to dump")
        }
    }

    /// Whether a byte array is reachable through the value's mirror (dump would print it).
    private static func reflectsBytes(_ value: Any) -> Bool {
        // (An empty array of any type casts to [UInt8]; only bytes count.)
        if let bytes = value as? [UInt8], !bytes.isEmpty { return true }
        return Mirror(reflecting: value).children.contains { reflectsBytes($0.value) }
    }
}
