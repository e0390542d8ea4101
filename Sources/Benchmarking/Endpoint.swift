/// A gRPC endpoint as etcd's tools spell it: `host:port`, optionally with an `http://` scheme.
public struct Endpoint: Sendable, Hashable, CustomStringConvertible {
    public let host: String
    public let port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `127.0.0.1:2379`, `http://127.0.0.1:2379` or `localhost:2379`.
    public init(parsing text: String) throws {
        var rest = Substring(text.trimmingSpaces())
        if let scheme = rest.range(of: "://") { rest = rest[scheme.upperBound...] }
        while rest.hasSuffix("/") { rest = rest.dropLast() }
        guard let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]),
            (1...65535).contains(port), colon > rest.startIndex
        else {
            throw BenchmarkError(code: .invalidConfiguration, message: "bad endpoint \"\(text)\", want host:port")
        }
        self.init(host: String(rest[..<colon]), port: port)
    }

    public var description: String { "\(host):\(port)" }
}

extension String {
    fileprivate func trimmingSpaces() -> Substring {
        var slice = Substring(self)
        while slice.first == " " { slice = slice.dropFirst() }
        while slice.last == " " { slice = slice.dropLast() }
        return slice
    }
}
