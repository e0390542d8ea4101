import Foundation

extension PlainHTTP {
    /// A request whose body is sent in chunks while its streamed answer is read, as a client of
    /// etcd's JSON gateway keeps one `/v3/watch` or `/v3/lease/keepalive` request open and sends a
    /// request object at a time. Sending and reading may run on different threads.
    public final class ChunkedRequest: @unchecked Sendable {
        private let connection: Connection
        private let answer = NSLock()
        private var stream: Stream?

        public init(_ method: String, _ path: String, port: Int, headers: [(String, String)] = []) throws {
            connection = try Connection(port: port)
            var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nTransfer-Encoding: chunked\r\n"
            for (name, value) in headers { head += "\(name): \(value)\r\n" }
            try connection.send(Array((head + "\r\n").utf8))
        }

        /// Sends `text` as one chunk; throws when the server has not read for `timeout` seconds.
        public func send(_ text: String, timeout: Double = 30) throws {
            let bytes = Array(text.utf8)
            guard !bytes.isEmpty else { return }
            try connection.send(Array((String(bytes.count, radix: 16) + "\r\n").utf8) + bytes + [13, 10], timeout: timeout)
        }

        /// Ends the body.
        public func finish() throws {
            try connection.send(Array("0\r\n\r\n".utf8))
        }

        /// The next line of the streamed answer (its head is read first), or nil after `timeout` seconds.
        public func nextLine(timeout: Double = 10) throws -> String? {
            answer.lock()
            defer { answer.unlock() }
            if stream == nil { stream = try Stream(answerOn: connection, timeout: timeout) }
            return stream?.nextLine(timeout: timeout)
        }

        public func close() {
            connection.close()
        }
    }
}
