import Foundation
import TestSupport
import Testing

/// TLS on the client port: real etcd and Etcetera serve `https://` with the same openssl-made
/// certificates, and etcdctl must print the same and exit the same way against both.
@Suite("TLS on the client port against real etcd", .serialized, .timeLimit(.minutes(10)))
struct TLSTests {
    /// etcdctl gives up on a refused handshake only at its timeouts; short ones keep the suite quick.
    static let quickTimeouts = ["--dial-timeout", "2s", "--command-timeout", "3s"]

    @Test("https with a server certificate: etcdctl with --cacert writes and reads; without it, or in plaintext, it fails")
    func serverCertificate() async throws {
        let certificates = try await TestCertificates.make()
        let (etcd, etcetera) = try await Self.startBoth(certificates.serverArguments(clientCertAuth: false))
        defer { etcd.stop(); etcetera.stop() }
        let trusting = ["--cacert", certificates.caFile]
        try await EtcdctlTests.expectSameOutput([
            (trusting + ["put", "foo", "bar"], nil),
            (trusting + ["get", "foo"], nil),
            (trusting + certificates.aliceArguments + ["get", "foo", "-w", "json"], nil),
            (["--insecure-transport=false"] + Self.quickTimeouts + ["get", "foo"], nil),
            (["--insecure-transport=false", "--insecure-skip-tls-verify"] + ["get", "foo"], nil),
        ], etcd: etcd, etcetera: etcetera)
        try await expectPlaintextRefused(etcd: etcd, etcetera: etcetera)
        #expect(etcetera.log.contains("serving client requests on \(etcetera.endpoint)"))
        #expect(!etcetera.log.contains("serving insecure client requests"))
    }

    @Test("--client-cert-auth refuses clients without a certificate from the trusted CA; CN=alice acts as alice under auth, CN=bob (no such user) is denied")
    func clientCertificateAuth() async throws {
        let certificates = try await TestCertificates.make()
        let (etcd, etcetera) = try await Self.startBoth(certificates.serverArguments(clientCertAuth: true))
        defer { etcd.stop(); etcetera.stop() }
        let alice = certificates.aliceArguments
        try await EtcdctlTests.expectSameOutput([
            (alice + ["put", "allowed/x", "1"], nil),
            (alice + ["get", "allowed/x"], nil),
            (["--cacert", certificates.caFile] + Self.quickTimeouts + ["get", "allowed/x"], nil),
            (certificates.strangerArguments + Self.quickTimeouts + ["get", "allowed/x"], nil),
            (alice + ["user", "add", "root:rootpw"], nil),
            (alice + ["user", "add", "alice:alicepw"], nil),
            (alice + ["role", "add", "writer"], nil),
            (alice + ["role", "grant-permission", "writer", "readwrite", "allowed/", "--prefix"], nil),
            (alice + ["user", "grant-role", "alice", "writer"], nil),
            (alice + ["auth", "enable"], nil),
            (alice + ["put", "allowed/y", "2"], nil),
            (alice + ["get", "allowed/", "--prefix"], nil),
            (alice + ["put", "denied", "1"], nil),
            (alice + ["get", "denied"], nil),
            (alice + ["user", "list"], nil),
            (alice + ["--user", "root:rootpw", "put", "denied", "2"], nil),
            (alice + ["--user", "root:rootpw", "get", "denied"], nil),
            (alice + ["--user", "alice:wrong", "get", "allowed/x"], nil),
            (certificates.bobArguments + ["get", "allowed/x"], nil),
            (certificates.bobArguments + ["put", "allowed/x", "3"], nil),
            (certificates.bobArguments + ["user", "get", "bob"], nil),
        ], etcd: etcd, etcetera: etcetera)
    }

    @Test("--cipher-suites limits the TLS 1.2 suites offered, as etcd's does: a client offering only others cannot connect")
    func cipherSuites() async throws {
        let certificates = try await TestCertificates.make()
        let (etcd, etcetera) = try await Self.startBoth(
            certificates.serverArguments(clientCertAuth: false) + ["--cipher-suites", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_AES_128_GCM_SHA256"])
        defer { etcd.stop(); etcetera.stop() }
        var outcomes: [String] = []
        for server in [etcd, etcetera] {
            var outcome: [String] = []
            for cipher in ["ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384", "AES128-SHA"] {
                let handshake = try await Command.run(
                    "/usr/bin/openssl", ["s_client", "-connect", server.endpoint, "-tls1_2", "-cipher", cipher, "-CAfile", certificates.caFile],
                    input: "")
                outcome.append("\(cipher): \(handshake.status == 0 && handshake.stdout.contains("Cipher is \(cipher)") ? "accepted" : "refused")")
            }
            outcomes.append(outcome.joined(separator: ", "))
        }
        #expect(outcomes[0] == "ECDHE-RSA-AES128-GCM-SHA256: accepted, ECDHE-RSA-AES256-GCM-SHA384: refused, AES128-SHA: refused")
        #expect(outcomes[1] == outcomes[0])
    }

    @Test("--auto-tls serves a self-signed certificate kept in <data-dir>/fixtures/client")
    func autoTLS() async throws {
        let (etcd, etcetera) = try await Self.startBoth(["--auto-tls"])
        defer { etcd.stop(); etcetera.stop() }
        let skipping = ["--insecure-transport=false", "--insecure-skip-tls-verify"]
        try await EtcdctlTests.expectSameOutput([
            (skipping + ["put", "a", "1"], nil),
            (skipping + ["get", "a"], nil),
            (["--insecure-transport=false"] + Self.quickTimeouts + ["get", "a"], nil),
        ], etcd: etcd, etcetera: etcetera)
        for server in [etcd, etcetera] {
            let fixtures = server.dataDirectory + "/fixtures/client"
            let permissions = try FileManager.default.attributesOfItem(atPath: fixtures + "/key.pem")[.posixPermissions] as? Int
            #expect(permissions == 0o600, "\(fixtures)/key.pem")
            let text = try await Command.run("/usr/bin/openssl", ["x509", "-in", fixtures + "/cert.pem", "-noout", "-text"])
            #expect(text.stdout.contains("Issuer: O = etcd"), "\(fixtures)")
            #expect(text.stdout.contains("IP Address:127.0.0.1"), "\(fixtures)")
            #expect(text.stdout.contains("NIST CURVE: P-521"), "\(fixtures)")
        }
        try await expectPlaintextRefused(etcd: etcd, etcetera: etcetera)
    }

    /// Real etcd and Etcetera, both serving `https://` with the same TLS flags.
    private static func startBoth(_ tlsArguments: [String]) async throws -> (etcd: ServerProcess, etcetera: ServerProcess) {
        let etcd = try await ServerProcess.etcd(extraArguments: tlsArguments, scheme: "https")
        do {
            return (etcd, try await ServerProcess.etcetera(extraArguments: tlsArguments, scheme: "https"))
        } catch {
            etcd.stop()
            throw error
        }
    }

    /// A plaintext client on a TLS port gets no answer from either server.
    private func expectPlaintextRefused(etcd: ServerProcess, etcetera: ServerProcess) async throws {
        for server in [etcd, etcetera] {
            #expect(throws: TestFailure.self, "\(server.clientURL)") { _ = try PlainHTTP.request("GET", "/health", port: server.port) }
        }
        let expected = try await Etcdctl.run(Self.quickTimeouts + ["get", "foo"], endpoint: "http://" + etcd.endpoint)
        let actual = try await Etcdctl.run(Self.quickTimeouts + ["get", "foo"], endpoint: "http://" + etcetera.endpoint)
        #expect(EtcdctlTests.errorLines(actual.stderr) == EtcdctlTests.errorLines(expected.stderr))
        #expect(actual.status == expected.status && actual.status != 0)
    }
}
