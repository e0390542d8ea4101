import Crypto
import Foundation
import X509

#if canImport(Glibc)
import Glibc
#endif

/// The certificate `--auto-tls` serves: made once per data directory, as etcd makes it, and reused on
/// later starts so that a client which pinned it keeps working.
///
/// Like etcd's it is self-signed with a P-521 key, names the organisation `etcd`, is valid for a year
/// and lists the listen hosts as subject alternative names (IP addresses as such, other hosts as DNS
/// names); clients have to skip verification (`etcdctl --insecure-skip-tls-verify`).
public struct SelfSignedCertificate: Sendable, Hashable {
    /// `<data-dir>/fixtures/client`, etcd's place for it.
    public let directory: String
    /// Hosts the certificate is for, from `--listen-client-urls`.
    public let hosts: [String]

    public var certificatePath: String { Path.join(directory, "cert.pem") }
    public var keyPath: String { Path.join(directory, "key.pem") }

    public init(dataDirectory: String, hosts: [String]) {
        directory = Path.join(Path.join(dataDirectory, "fixtures"), "client")
        self.hosts = hosts
    }

    /// Writes a new certificate and key unless both files exist already.
    /// - Throws: file-system errors, or swift-certificates' error if the certificate cannot be made.
    public func ensureExists() throws {
        let files = FileManager.default
        if files.fileExists(atPath: certificatePath), files.fileExists(atPath: keyPath) { return }
        try files.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let key = P521.Signing.PrivateKey()
        let name = try DistinguishedName { OrganizationName("etcd") }
        let now = Date()
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: now, notValidAfter: now.addingTimeInterval(365 * 24 * 3600),
            issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA512,
            extensions: try Certificate.Extensions {
                Critical(KeyUsage(digitalSignature: true, keyEncipherment: true))
                try ExtendedKeyUsage([.serverAuth])
                Critical(BasicConstraints.notCertificateAuthority)
                SubjectAlternativeNames(hosts.map(Self.alternativeName))
            },
            issuerPrivateKey: .init(key))
        try write(key.pemRepresentation, to: keyPath, permissions: 0o600)
        try write(certificate.serializeAsPEM().pemString, to: certificatePath, permissions: 0o644)
    }

    private func write(_ text: String, to path: String, permissions: Int) throws {
        guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: permissions]) else {
            throw LauncherError(code: .directoryUnusable, message: "cannot write \(path)")
        }
    }

    private static func alternativeName(_ host: String) -> GeneralName {
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 {
            return .ipAddress(.init(contentBytes: withUnsafeBytes(of: &v4) { Array($0)[...] }))
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, host, &v6) == 1 {
            return .ipAddress(.init(contentBytes: withUnsafeBytes(of: &v6) { Array($0)[...] }))
        }
        return .dnsName(host)
    }
}
