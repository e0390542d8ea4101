import Foundation

/// Certificates made with `openssl` in a temporary directory, as an operator would make them for etcd:
/// a CA, a server certificate for 127.0.0.1 and localhost, a client certificate for `alice`, and a client
/// certificate (also CN=alice) from another CA that the server must not trust, and a client certificate
/// for `bob`, a user who is never created.
public struct TestCertificates: Sendable {
    public let directory: String
    public var caFile: String { path("ca.pem") }
    public var serverCertificate: String { path("server.pem") }
    public var serverKey: String { path("server.key") }
    public var aliceCertificate: String { path("alice.pem") }
    public var aliceKey: String { path("alice.key") }
    public var bobCertificate: String { path("bob.pem") }
    public var bobKey: String { path("bob.key") }
    public var strangerCertificate: String { path("stranger.pem") }
    public var strangerKey: String { path("stranger.key") }

    /// etcd's flags for serving with these certificates, optionally requiring client certificates.
    public func serverArguments(clientCertAuth: Bool) -> [String] {
        ["--cert-file", serverCertificate, "--key-file", serverKey]
            + (clientCertAuth ? ["--trusted-ca-file", caFile, "--client-cert-auth"] : [])
    }

    /// etcdctl's flags for a client that trusts the CA and presents alice's certificate.
    public var aliceArguments: [String] {
        ["--cacert", caFile, "--cert", aliceCertificate, "--key", aliceKey]
    }

    /// etcdctl's flags for a client that trusts the CA and presents bob's certificate.
    public var bobArguments: [String] {
        ["--cacert", caFile, "--cert", bobCertificate, "--key", bobKey]
    }

    /// etcdctl's flags for a client that trusts the CA and presents the other CA's certificate.
    public var strangerArguments: [String] {
        ["--cacert", caFile, "--cert", strangerCertificate, "--key", strangerKey]
    }

    private func path(_ name: String) -> String { directory + "/" + name }

    public static func make() async throws -> TestCertificates {
        let certificates = TestCertificates(directory: TestPaths.temporaryDirectory(prefix: "certs"))
        let steps: [[String]] = [
            ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=etcetera-test-ca"],
            ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other-ca.key", "-out", "other-ca.pem", "-days", "2", "-subj", "/CN=other-ca"],
            ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=server"],
            ["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "server.ext"],
            ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "alice.key", "-out", "alice.csr", "-subj", "/CN=alice"],
            ["x509", "-req", "-in", "alice.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "alice.pem", "-days", "2", "-extfile", "client.ext"],
            ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "bob.key", "-out", "bob.csr", "-subj", "/CN=bob"],
            ["x509", "-req", "-in", "bob.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "bob.pem", "-days", "2", "-extfile", "client.ext"],
            ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "stranger.key", "-out", "stranger.csr", "-subj", "/CN=alice"],
            ["x509", "-req", "-in", "stranger.csr", "-CA", "other-ca.pem", "-CAkey", "other-ca.key", "-CAcreateserial", "-out", "stranger.pem", "-days", "2", "-extfile", "client.ext"],
        ]
        try "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n"
            .write(toFile: certificates.path("server.ext"), atomically: true, encoding: .utf8)
        try "extendedKeyUsage=clientAuth\n".write(toFile: certificates.path("client.ext"), atomically: true, encoding: .utf8)
        for step in steps {
            let output = try await Command.run("/usr/bin/openssl", step, directory: certificates.directory)
            guard output.status == 0 else { throw TestFailure("openssl \(step.joined(separator: " ")) failed: \(output.stderr)") }
        }
        return certificates
    }
}
