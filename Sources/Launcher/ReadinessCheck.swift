/// How the supervisor decides that Etcetera serves clients, once every service is started.
///
/// It calls ``probe`` every ``interval`` until it returns `true`, then prints the lines etcd prints as
/// it starts serving (`published …`, `enabled capabilities …`, `ready to serve client requests`) to
/// standard error in etcd's shape (``format``), which scripts written for etcd wait for.
public struct ReadinessCheck: Sendable {
    /// The member the `published` line names.
    public var member: MemberAnnouncement
    /// The client address, as printed in the readiness line (`127.0.0.1:2379`).
    public var address: String
    /// Whether the address serves TLS: etcd's serving line then drops its "insecure" warning.
    public var isSecure: Bool
    public var interval: Duration
    public var probe: @Sendable () -> Bool
    /// etcd's `--logger`: how the readiness lines look.
    public var format: EtcdLogFormat

    public init(
        member: MemberAnnouncement, address: String, isSecure: Bool = false, interval: Duration = .milliseconds(50),
        format: EtcdLogFormat = .capnslog, probe: @escaping @Sendable () -> Bool
    ) {
        self.member = member
        self.address = address
        self.isSecure = isSecure
        self.interval = interval
        self.format = format
        self.probe = probe
    }

    /// Ready once the URL's `host:port` accepts a TCP connection (a wildcard host is probed on loopback).
    public static func tcpConnect(
        to url: ClientURL, member: MemberAnnouncement, interval: Duration = .milliseconds(50), format: EtcdLogFormat = .capnslog
    ) -> ReadinessCheck {
        let host = url.host
        let port = url.port ?? 0
        return ReadinessCheck(member: member, address: url.hostPort, isSecure: url.scheme == "https", interval: interval, format: format) {
            TCPProbe.canConnect(host: host, port: port)
        }
    }
}

extension ClientURL {
    /// Fails if something already listens on this URL's address, so that the readiness check cannot
    /// mistake another server (an etcd left running) for the gateway.
    /// - Throws: `LauncherError` with `.addressInUse`.
    public func ensureAddressAvailable() throws {
        guard let port, TCPProbe.isInUse(host: host, port: port) else { return }
        throw LauncherError(
            code: .addressInUse,
            message: "listen tcp \(hostPort): bind: address already in use"
        )
    }
}
