import NIOCore
import NIOSSL
import ServiceSupport

/// TLS on the client port, as etcd's `--cert-file`, `--key-file`, `--trusted-ca-file` and
/// `--client-cert-auth` set it up for an `https://` client URL.
public struct ClientTLS: Sendable, Hashable {
    /// The server's certificate chain (PEM).
    public var certificateFile: String
    /// The server's private key (PEM).
    public var keyFile: String
    /// CA certificates (PEM) that client certificates must chain to. As in etcd, giving one requires
    /// every client to present a certificate signed by it, even without ``clientCertificateAuth``.
    public var trustedCAFile: String?
    /// `--client-cert-auth`: clients must present a verified certificate, and when auth is enabled a
    /// call without a token is made as the user named by that certificate's common name.
    public var clientCertificateAuth: Bool
    /// `--cipher-suites`: the TLS 1.2 suites offered, by IANA code point, in order of preference;
    /// empty for the TLS library's own choice (as etcd leaves Go's). TLS 1.3's suites are not
    /// configurable, in Go as here.
    public var cipherSuites: [UInt16]

    public init(
        certificateFile: String, keyFile: String, trustedCAFile: String? = nil, clientCertificateAuth: Bool = false,
        cipherSuites: [UInt16] = []
    ) {
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.trustedCAFile = trustedCAFile
        self.clientCertificateAuth = clientCertificateAuth
        self.cipherSuites = cipherSuites
    }

    /// Whether a client must present a certificate that verifies (etcd: either flag asks for it).
    var requiresClientCertificate: Bool {
        clientCertificateAuth || trustedCAFile != nil
    }

    /// The server context, loaded once at start so that a bad file stops the gateway at once.
    ///
    /// TLS 1.2 is the oldest version accepted, as in etcd. ALPN prefers `http/1.1`, so that a client
    /// offering both (curl) reaches the HTTP endpoints, which the gateway serves over HTTP/1.1 only;
    /// gRPC clients offer `h2` alone and get it. The protocol is still told apart by the first bytes
    /// (`ProtocolSniffer`), so a client that negotiates nothing is served too.
    func makeContext() throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(certificateFile).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: keyFile, format: .pem)))
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = ["http/1.1", "h2"]
        let tls12Suites = cipherSuites.filter { !GoTLSCipherSuites.isTLS13($0) }
        if !tls12Suites.isEmpty { configuration.cipherSuiteValues = tls12Suites.map(NIOTLSCipher.init(rawValue:)) }
        if requiresClientCertificate {
            configuration.certificateVerification = .noHostnameVerification
            configuration.trustRoots = trustedCAFile.map { .file($0) } ?? .default
        }
        return try NIOSSLContext(configuration: configuration)
    }
}

extension ChannelPipeline.SynchronousOperations {
    /// The common name of the client certificate this connection verified, which etcd takes as the
    /// caller's user name (the last common name of the subject, as Go's `pkix.Name` reads it).
    func verifiedClientCommonName() -> String? {
        guard let certificate = try? nioSSL_peerCertificate() else { return nil }
        return certificate.subjectName.last { $0.type == .commonName }?.value
    }
}
