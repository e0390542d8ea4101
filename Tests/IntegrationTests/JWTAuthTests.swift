import EtceteraAPI
import Foundation
import GRPCCore
import TestSupport
import Testing

/// `--auth-token jwt,...`: real etcd and Etcetera started with the same RSA key pair (made with openssl
/// in the test's directory) issue tokens that verify on either, refuse a token minted before an auth
/// change with the same status, and refuse expired tokens.
@Suite("JWT tokens against real etcd", .serialized, .timeLimit(.minutes(10)))
struct JWTAuthTests {
    /// A fresh key pair and the `--auth-token` value using it.
    private static func authToken(ttl: String) async throws -> String {
        let directory = TestPaths.temporaryDirectory(prefix: "jwt-keys")
        let key = directory + "/private.pem"
        let publicKey = directory + "/public.pem"
        for arguments in [["genrsa", "-out", key, "2048"], ["rsa", "-in", key, "-pubout", "-out", publicKey]] {
            let made = try await Command.run("/usr/bin/openssl", arguments)
            guard made.status == 0 else { throw TestFailure("openssl \(arguments): \(made.stderr)") }
        }
        return "jwt,pub-key=\(publicKey),priv-key=\(key),sign-method=RS256,ttl=\(ttl)"
    }

    /// root, and alice with READWRITE on the prefix `k`; then auth on.
    private static let setup: [[String]] = [
        ["user", "add", "root:rootpw"], ["user", "grant-role", "root", "root"],
        ["user", "add", "alice:alicepw"], ["role", "add", "rw"],
        ["role", "grant-permission", "rw", "readwrite", "k", "--prefix"], ["user", "grant-role", "alice", "rw"],
        ["auth", "enable"],
    ]

    /// etcd and Etcetera started with the same fresh key pair (and, if `prepared`, set up alike).
    private static func withServers(
        ttl: String, prepared: Bool = true, _ body: (_ etcd: ServerProcess, _ etcetera: ServerProcess) async throws -> Void
    ) async throws {
        let flag = try await authToken(ttl: ttl)
        let etcd = try await ServerProcess.etcd(extraArguments: ["--auth-token", flag])
        defer { etcd.stop() }
        let etcetera = try await ServerProcess.etcetera(extraArguments: ["--auth-token", flag])
        defer { etcetera.stop() }
        for server in prepared ? [etcd, etcetera] : [] {
            for arguments in setup {
                let output = try await Etcdctl.run(arguments, endpoint: server.endpoint)
                guard output.status == 0 else { throw TestFailure("etcdctl \(arguments): \(output.stderr)") }
            }
        }
        try await body(etcd, etcetera)
    }

    private static func authenticate(_ client: EtcdClient, _ name: String, _ password: String) async throws -> String {
        var request = Etcdserverpb_AuthenticateRequest()
        request.name = name
        request.password = password
        return try await client.auth.authenticate(request).token
    }

    /// The status of a Range of `k1` with the token: nil when it succeeds.
    private static func rangeStatus(_ client: EtcdClient, token: String) async throws -> String? {
        var request = Etcdserverpb_RangeRequest()
        request.key = Data("k1".utf8)
        var metadata = Metadata()
        metadata.addString(token, forKey: "token")
        do {
            _ = try await client.kv.range(request, metadata: metadata)
            return nil
        } catch let error as RPCError {
            return "\(error.code): \(error.message)"
        }
    }

    /// The `revision` claim of a token (no verification: the servers do that).
    private static func revision(of token: String) throws -> UInt64 {
        let parts = token.split(separator: ".")
        guard parts.count == 3 else { throw TestFailure("not a JWT: \(token)") }
        var base64 = parts[1].replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        guard let data = Data(base64Encoded: base64),
            let claims = try JSONSerialization.jsonObject(with: data) as? [String: Any],
            let revision = claims["revision"] as? NSNumber, claims["username"] is String, claims["exp"] is NSNumber
        else { throw TestFailure("claims of \(token)") }
        return revision.uint64Value
    }

    @Test("tokens verify on either server; a token older than an auth change gets etcd's error; re-authenticating works")
    func crossVerificationAndOldRevision() async throws {
        try await Self.withServers(ttl: "5m") { etcd, etcetera in try await Self.crossVerificationAndOldRevision(etcd, etcetera) }
    }

    private static func crossVerificationAndOldRevision(_ etcd: ServerProcess, _ etcetera: ServerProcess) async throws {
        try await withEtcdClient(port: etcd.port) { etcdClient in
            try await withEtcdClient(port: etcetera.port) { etceteraClient in
                // Bring both auth revisions level (Etcetera counts auth enable, etcd does not), so
                // that each server's token is current on the other.
                var etcdToken = try await Self.authenticate(etcdClient, "alice", "alicepw")
                var etceteraToken = try await Self.authenticate(etceteraClient, "alice", "alicepw")
                let (etcdRevision, etceteraRevision) = (try Self.revision(of: etcdToken), try Self.revision(of: etceteraToken))
                let (behind, gap) = etcdRevision < etceteraRevision
                    ? (etcd, etceteraRevision - etcdRevision) : (etcetera, etcdRevision - etceteraRevision)
                for index in 0..<gap {
                    _ = try await Etcdctl.run(["--user", "root:rootpw", "role", "add", "pad\(index)"], endpoint: behind.endpoint)
                }
                etcdToken = try await Self.authenticate(etcdClient, "alice", "alicepw")
                etceteraToken = try await Self.authenticate(etceteraClient, "alice", "alicepw")
                #expect(try Self.revision(of: etcdToken) == Self.revision(of: etceteraToken))

                #expect(try await Self.rangeStatus(etcdClient, token: etcdToken) == nil)
                #expect(try await Self.rangeStatus(etceteraClient, token: etceteraToken) == nil)
                #expect(try await Self.rangeStatus(etceteraClient, token: etcdToken) == nil, "etcd's token verifies on Etcetera")
                #expect(try await Self.rangeStatus(etcdClient, token: etceteraToken) == nil, "Etcetera's token verifies on etcd")

                for server in [etcd, etcetera] {
                    let changed = try await Etcdctl.run(
                        ["--user", "root:rootpw", "role", "grant-permission", "rw", "read", "other"], endpoint: server.endpoint)
                    #expect(changed.status == 0)
                }
                let expected = "invalidArgument: etcdserver: revision of auth store is old"
                #expect(try await Self.rangeStatus(etcdClient, token: etcdToken) == expected)
                #expect(try await Self.rangeStatus(etceteraClient, token: etceteraToken) == expected)
                #expect(try await Self.rangeStatus(etceteraClient, token: "not.a.token") == "unauthenticated: etcdserver: invalid auth token")
                #expect(try await Self.rangeStatus(etcdClient, token: "not.a.token") == "unauthenticated: etcdserver: invalid auth token")

                let renewed = try await Self.authenticate(etceteraClient, "alice", "alicepw")
                #expect(try await Self.rangeStatus(etceteraClient, token: renewed) == nil)
                #expect(try await Self.rangeStatus(etcdClient, token: try await Self.authenticate(etcdClient, "alice", "alicepw")) == nil)
            }
        }
    }

    @Test("an expired JWT is an invalid token on both (ttl=1s)")
    func expiry() async throws {
        try await Self.withServers(ttl: "1s") { etcd, etcetera in
            for server in [etcd, etcetera] {
                try await withEtcdClient(port: server.port) { client in
                    let token = try await Self.authenticate(client, "alice", "alicepw")
                    // exp is issue time + 1 s, valid through that second: 2.1 s later it has passed.
                    try await Task.sleep(for: .milliseconds(2100))
                    #expect(try await Self.rangeStatus(client, token: token) == "unauthenticated: etcdserver: invalid auth token")
                }
            }
        }
    }

    @Test("etcdctl sessions with JWTs print what real etcd prints")
    func etcdctlSession() async throws {
        try await Self.withServers(ttl: "5m", prepared: false) { etcd, etcetera in
            try await EtcdctlTests.expectSameOutput(AuthTests.session, etcd: etcd, etcetera: etcetera)
        }
    }

    @Test("clientv3 authenticates again by itself when its JWT is refused after an auth change, on both")
    func clientv3Renews() async throws {
        let program = try await GoProgram.build("authrenew")
        try await Self.withServers(ttl: "5m") { etcd, etcetera in
            for server in [etcd, etcetera] {
                let output = try await GoProgram.run(program, [server.endpoint, "alice", "alicepw", "rootpw", "rw"])
                #expect(output.status == 0, "\(output.stdout)\(output.stderr)")
                #expect(output.stdout.contains("get after the auth change ok"), "\(output.stdout)")
            }
        }
    }

    @Test("a bad --auth-token stops Etcetera as it stops etcd: status 1 and etcd's error")
    func badOptions() async throws {
        for (value, message) in [
            ("bogus", "auth: invalid auth options"), ("jwt,sign-method=RS256", "auth: missing key data"),
            ("jwt,sign-method=RS256,priv-key=/nonexistent", "auth: invalid auth options"),
        ] {
            let directory = TestPaths.temporaryDirectory(prefix: "bad-auth-token")
            let etcetera = try await Command.run(TestPaths.executable("etcetera"), ["--data-dir", directory, "--auth-token", value])
            #expect(etcetera.status == 1, "\(value)")
            #expect(etcetera.stderr.contains(message), "\(value): \(etcetera.stderr)")
        }
    }
}
