import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// HTTP/1.1 over a plain loopback socket, for checking what the client port answers to HTTP clients
/// (curl, probes, etcd's JSON gateway) without depending on any HTTP client being installed.
public enum PlainHTTP {
    public struct Response: Sendable, Equatable {
        public let status: Int
        /// Header names lower-cased; the Date header, which differs between any two answers, and
        /// Transfer-Encoding (its value is `chunked` whichever way it is spelt) are left out.
        public let headers: [String: String]
        /// A chunked body is given decoded.
        public let body: String
        /// The trailers of a chunked body, names lower-cased.
        public var trailers: [String: String] = [:]
    }

    /// Sends one request with `Connection: close` and reads the whole answer.
    public static func request(
        _ method: String, _ path: String, port: Int, body: String = "", headers: [(String, String)] = []
    ) throws -> Response {
        let connection = try Connection(port: port)
        defer { connection.close() }
        try connection.send(method, path, body: body, headers: headers + [("Connection", "close")])
        var received = [UInt8]()
        while let chunk = connection.receive(timeout: 30) { received += chunk }
        let text = String(decoding: received, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { throw TestFailure("no HTTP response: \(text)") }
        let (status, headers) = try parseHead(String(text[..<split.lowerBound]))
        let rest = String(text[split.upperBound...])
        guard headers["transfer-encoding"] != nil else {
            return Response(status: status, headers: headers, body: rest)
        }
        let (body, trailers) = try decodeChunked(rest)
        var shown = headers
        shown["transfer-encoding"] = nil
        return Response(status: status, headers: shown, body: body, trailers: trailers)
    }

    /// A streamed answer (etcd's watch: one JSON object per line), read line by line while the
    /// response stays open.
    public final class Stream {
        public let status: Int
        public let headers: [String: String]
        private let connection: Connection
        /// Decoded body bytes not yet returned as lines, and raw bytes not yet decoded.
        private var decoded = [UInt8]()
        private var raw = [UInt8]()

        public convenience init(_ method: String, _ path: String, port: Int, body: String, headers: [(String, String)] = []) throws {
            let connection = try Connection(port: port)
            try connection.send(method, path, body: body, headers: headers)
            try self.init(answerOn: connection)
        }

        /// Reads the response head of a request already sent on `connection`.
        init(answerOn connection: Connection, timeout: Double = 10) throws {
            self.connection = connection
            while true {
                if let end = Self.find([13, 10, 13, 10], in: raw) {
                    let head = String(decoding: raw[..<end], as: UTF8.self)
                    raw.removeFirst(end + 4)
                    (status, self.headers) = try PlainHTTP.parseHead(head)
                    return
                }
                guard let chunk = connection.receive(timeout: timeout) else { throw TestFailure("no response head") }
                raw += chunk
            }
        }

        /// The next line of the body, or nil if none arrives within `timeout` seconds.
        public func nextLine(timeout: Double = 10) -> String? {
            let deadline = Date().addingTimeInterval(timeout)
            while true {
                decodeChunks()
                if let newline = decoded.firstIndex(of: 10) {
                    let line = String(decoding: decoded[..<newline], as: UTF8.self)
                    decoded.removeFirst(newline + 1)
                    return line
                }
                let left = deadline.timeIntervalSinceNow
                guard left > 0, let chunk = connection.receive(timeout: left) else { return nil }
                raw += chunk
            }
        }

        public func close() {
            connection.close()
        }

        private func decodeChunks() {
            while let lineEnd = Self.find([13, 10], in: raw),
                  let size = Int(String(decoding: raw[..<lineEnd], as: UTF8.self), radix: 16),
                  raw.count >= lineEnd + 2 + size + 2 {
                decoded += raw[(lineEnd + 2)..<(lineEnd + 2 + size)]
                raw.removeFirst(lineEnd + 2 + size + 2)
            }
        }

        private static func find(_ needle: [UInt8], in bytes: [UInt8]) -> Int? {
            guard bytes.count >= needle.count else { return nil }
            return (0...(bytes.count - needle.count)).first { Array(bytes[$0..<($0 + needle.count)]) == needle }
        }
    }

    private static func parseHead(_ head: String) throws -> (Int, [String: String]) {
        let lines = head.split(separator: "\r\n")
        guard let statusLine = lines.first, statusLine.split(separator: " ").count > 1,
              let status = Int(statusLine.split(separator: " ")[1]) else {
            throw TestFailure("bad status line: \(head)")
        }
        return (status, fields(lines.dropFirst()))
    }

    private static func fields(_ lines: some Sequence<Substring>) -> [String: String] {
        var fields: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].lowercased()
            if name == "date" { continue }
            fields[name] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return fields
    }

    private static func decodeChunked(_ text: String) throws -> (String, [String: String]) {
        var rest = Substring(text)
        var body = ""
        while let lineEnd = rest.range(of: "\r\n") {
            guard let size = Int(rest[..<lineEnd.lowerBound], radix: 16) else { throw TestFailure("bad chunk: \(rest)") }
            rest = rest[lineEnd.upperBound...]
            if size == 0 {
                return (body, fields(rest.split(separator: "\r\n")))
            }
            let data = Array(rest.utf8)
            body += String(decoding: data[..<size], as: UTF8.self)
            rest = Substring(String(decoding: data[(size + 2)...], as: UTF8.self))
        }
        throw TestFailure("chunked body cut short: \(text)")
    }

    /// One loopback TCP connection.
    public final class Connection {
        private let fd: Int32
        private let port: Int

        public init(port: Int) throws {
            self.port = port
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw TestFailure("socket failed") }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard connected == 0 else {
                Glibc.close(fd)
                throw TestFailure("cannot connect to \(port)")
            }
        }

        public func send(_ method: String, _ path: String, body: String, headers: [(String, String)]) throws {
            // The loopback address unless the caller names a host itself.
            var request = "\(method) \(path) HTTP/1.1\r\n"
            if !headers.contains(where: { $0.0.lowercased() == "host" }) { request += "Host: 127.0.0.1:\(port)\r\n" }
            for (name, value) in headers { request += "\(name): \(value)\r\n" }
            request += "Content-Length: \(body.utf8.count)\r\n\r\n\(body)"
            try send(Array(request.utf8))
        }

        /// Sends `bytes` as they are, waiting while the peer's receive buffer is full, at most `timeout`
        /// seconds at a time; throws if the peer stopped reading for that long or closed.
        func send(_ bytes: [UInt8], timeout: Double = 30) throws {
            var sent = 0
            while sent < bytes.count {
                var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                guard poll(&poller, 1, Int32(timeout * 1000)) > 0 else {
                    throw TestFailure("the peer stopped reading (\(sent) of \(bytes.count) bytes sent)")
                }
                let count = bytes[sent...].withUnsafeBytes {
                    Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
                }
                if count < 0, errno == EAGAIN || errno == EINTR { continue }
                guard count > 0 else { throw TestFailure("send failed: errno \(errno)") }
                sent += count
            }
        }

        /// Whether a receive found the end of the stream (or a reset).
        public private(set) var isClosedByPeer = false

        /// The next bytes received, or nil at the end of the stream or after `timeout` seconds.
        public func receive(timeout: Double) -> [UInt8]? {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, Int32(timeout * 1000)) > 0 else { return nil }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let count = recv(fd, &chunk, chunk.count, 0)
            if count <= 0 { isClosedByPeer = true }
            return count > 0 ? Array(chunk[0..<count]) : nil
        }

        public func close() {
            Glibc.close(fd)
        }
    }
}
