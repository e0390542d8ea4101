/// One URL of `--listen-client-urls` or `--advertise-client-urls`, checked the way etcd checks them.
///
/// etcd accepts the schemes `http`, `https`, `unix` and `unixs`, requires `host:port` for the network ones
/// and rejects paths. Etcetera serves `http` and `https` (TCP) only; the other schemes are parsed so that
/// advertise lists and extra listen URLs pass through unchanged.
public struct ClientURL: Sendable, Hashable, CustomStringConvertible {
    /// The URL exactly as given.
    public let string: String
    /// The lower-cased scheme: `http`, `https`, `unix` or `unixs`.
    public let scheme: String
    /// The host without IPv6 brackets (`::1`, not `[::1]`); for `unix` URLs the socket path.
    public let host: String
    /// The TCP port; `nil` for `unix` URLs.
    public let port: Int?

    /// Parses one URL.
    /// - Throws: `LauncherError` with code `.invalidURL` when the scheme is unknown, the port missing or
    ///   out of range, or a path is present.
    public init(_ string: String) throws {
        let trimmed = string.trimmingSpaces()
        guard let separator = trimmed.firstRange(of: "://") else {
            throw Self.invalid(string, "expected scheme://host:port")
        }
        let scheme = trimmed[..<separator.lowerBound].lowercased()
        var authority = Substring(trimmed[separator.upperBound...])
        self.string = trimmed
        self.scheme = scheme
        switch scheme {
        case "unix", "unixs":
            guard !authority.isEmpty else { throw Self.invalid(string, "missing socket path") }
            self.host = String(authority)
            self.port = nil
        case "http", "https":
            if authority.hasSuffix("/") {
                authority = authority.dropLast()
            }
            guard !authority.contains("/"), !authority.contains("?"), !authority.contains("#") else {
                throw Self.invalid(string, "URL must not contain a path")
            }
            let host: Substring
            let portText: Substring
            if authority.hasPrefix("[") {
                guard let close = authority.firstIndex(of: "]"),
                    authority[authority.index(after: close)...].hasPrefix(":")
                else {
                    throw Self.invalid(string, "address does not have the form host:port")
                }
                host = authority[authority.index(after: authority.startIndex)..<close]
                portText = authority[authority.index(close, offsetBy: 2)...]
            } else {
                guard let colon = authority.lastIndex(of: ":"),
                    !authority[..<colon].contains(":")
                else {
                    throw Self.invalid(string, "address does not have the form host:port")
                }
                host = authority[..<colon]
                portText = authority[authority.index(after: colon)...]
            }
            guard let port = Int(portText), (0...65535).contains(port) else {
                throw Self.invalid(string, "invalid port \"\(portText)\"")
            }
            self.host = String(host)
            self.port = port
        default:
            throw Self.invalid(string, "URL scheme must be http, https, unix, or unixs")
        }
    }

    /// `host:port` as etcd prints listen addresses (`127.0.0.1:2379`, `[::1]:2379`).
    public var hostPort: String {
        guard let port else { return host }
        return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    public var description: String {
        string
    }

    private static func invalid(_ url: String, _ reason: String) -> LauncherError {
        LauncherError(code: .invalidURL, message: "invalid URL \"\(url)\": \(reason)")
    }
}

extension String {
    func trimmingSpaces() -> String {
        var view = Substring(self)
        while view.first?.isWhitespace == true { view = view.dropFirst() }
        while view.last?.isWhitespace == true { view = view.dropLast() }
        return String(view)
    }
}
