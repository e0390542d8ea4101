import Foundation

/// The endpoint other machines (or containers) reach a service on, given the endpoint it binds.
public enum AdvertisedEndpoint {
    /// `bind` itself, unless it binds every interface (`tcp://0.0.0.0:PORT`): then `tcp://HOST:PORT`
    /// with `host`, by default this machine's own address. In a container that is the container's
    /// address on its network, so a scaled service needs no per-replica configuration.
    public static func forBind(_ bind: String, host: () -> String = machineAddress) -> String {
        guard bind.hasPrefix("tcp://"), let colon = bind.lastIndex(of: ":") else { return bind }
        let boundHost = String(bind[bind.index(bind.startIndex, offsetBy: "tcp://".count)..<colon])
        guard KVBusEndpoints.wildcardHosts.contains(boundHost) else { return bind }
        return "tcp://\(host())\(bind[colon...])"
    }

    /// The first IPv4 address this machine's host name resolves to that is not a loopback address (a
    /// container's `/etc/hosts` maps its host name to its address), or the host name itself.
    public static func machineAddress() -> String {
        var name = [CChar](repeating: 0, count: 256)
        guard gethostname(&name, name.count - 1) == 0 else { return "localhost" }
        let hostName = String(cString: name)
        var hints = addrinfo()
        hints.ai_family = AF_INET
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(hostName, nil, &hints, &result) == 0, let first = result else { return hostName }
        defer { freeaddrinfo(first) }
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let current = entry {
            if let address = current.pointee.ai_addr {
                let ipv4 = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
                var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
                var raw = ipv4
                if inet_ntop(AF_INET, &raw, &text, socklen_t(text.count)) != nil {
                    let dotted = String(cString: text)
                    if !dotted.hasPrefix("127.") { return dotted }
                }
            }
            entry = current.pointee.ai_next
        }
        return hostName
    }
}
