import Auth
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
