/// The kv service's two bus endpoints when services on other machines reach it over TCP.
///
/// One address is enough to join a deployment: the kv store answers requests on `tcp://HOST:PORT`
/// and publishes its event stream on the next port, so a watch process elsewhere needs only
/// `--bus tcp://HOST:PORT`, and the launcher's `--bus-listen` says the same thing from the kv's side.
public struct KVBusEndpoints: Sendable, Hashable {
    /// Where the kv store answers requests: `tcp://HOST:PORT`.
    public let requests: String
    /// Where it publishes committed revisions: `tcp://HOST:PORT+1`.
    public let events: String
    public let host: String
    public let port: Int

    /// Parses `tcp://HOST:PORT` (HOST may be a bracketed IPv6 address); nil for anything else,
    /// including a port whose successor is not a port.
    public init?(tcp address: String) {
        guard address.hasPrefix("tcp://") else { return nil }
        let hostAndPort = address.dropFirst("tcp://".count)
        guard let colon = hostAndPort.lastIndex(of: ":"), let port = Int(hostAndPort[hostAndPort.index(after: colon)...]),
              (1...65534).contains(port)
        else { return nil }
        let host = String(hostAndPort[..<colon])
        guard !host.isEmpty, !host.contains("/") else { return nil }
        self.host = host
        self.port = port
        requests = "tcp://\(host):\(port)"
        events = "tcp://\(host):\(port + 1)"
    }

    /// The same endpoints as a process on this machine connects to them: a wildcard bind address
    /// (`0.0.0.0`, `*`, `[::]`) is reached on the loopback address.
    public var local: KVBusEndpoints {
        Self.wildcardHosts.contains(host) ? KVBusEndpoints(tcp: "tcp://127.0.0.1:\(port)")! : self
    }

    /// Bind addresses that mean every interface, which no other process can connect to as written.
    public static let wildcardHosts: Set<String> = ["0.0.0.0", "*", "[::]"]
}
