/// etcd's client TLS settings (`client-transport-security` in its configuration file).
///
/// They apply to an `https://` client URL only; with an `http://` one etcd ignores them and warns, and
/// so does Etcetera.
public struct ClientTransportSecurity: Sendable, Hashable {
    /// `--cert-file`: the server certificate (PEM).
    public var certFile: String?
    /// `--key-file`: its private key (PEM).
    public var keyFile: String?
    /// `--trusted-ca-file`: CA certificates client certificates must chain to; as in etcd, giving one
    /// makes client certificates required.
    public var trustedCAFile: String?
    /// `--client-cert-auth`: clients must present a verified certificate, whose common name is the
    /// user of a call without a token when auth is enabled.
    public var clientCertAuth: Bool
    /// `--auto-tls`: without `--cert-file`/`--key-file`, serve a self-signed certificate kept in
    /// `<data-dir>/fixtures/client`.
    public var autoTLS: Bool
    /// `--cipher-suites`: Go's names of the TLS 1.2 suites to offer; empty for the library's choice.
    public var cipherSuites: [String] = []

    public init(
        certFile: String? = nil, keyFile: String? = nil, trustedCAFile: String? = nil,
        clientCertAuth: Bool = false, autoTLS: Bool = false
    ) {
        self.certFile = certFile
        self.keyFile = keyFile
        self.trustedCAFile = trustedCAFile
        self.clientCertAuth = clientCertAuth
        self.autoTLS = autoTLS
    }

    /// Whether a certificate or key file was given (etcd's `TLSInfo.Empty()` negated).
    public var hasCertificateFiles: Bool {
        certFile != nil || keyFile != nil
    }

    /// Whether the self-signed certificate is used: asked for, and no certificate files given.
    public var usesAutoTLS: Bool {
        autoTLS && !hasCertificateFiles
    }
}
