import Foundation

/// An HTTP/2 client written frame by frame over a loopback socket, for what well-behaved clients never
/// do: pinging too often, opening streams and never finishing their bodies, never reading. Headers
/// are HPACK literals without indexing, which every decoder accepts. It keeps HTTP/2's rules a
/// server enforces: it acknowledges the server's SETTINGS and sends DATA only within the windows.
public final class RawHTTP2Connection: @unchecked Sendable {
    public struct Frame: Sendable, CustomStringConvertible {
        public let type: UInt8
        public let flags: UInt8
        public let stream: UInt32
        public let payload: [UInt8]

        public static let data: UInt8 = 0
        public static let headers: UInt8 = 1
        public static let rstStream: UInt8 = 3
        public static let settings: UInt8 = 4
        public static let ping: UInt8 = 6
        public static let goAway: UInt8 = 7
        public static let windowUpdate: UInt8 = 8

        /// The error code of a RST_STREAM or GOAWAY frame.
        public var errorCode: UInt32? {
            switch type {
            case Self.rstStream: payload.count >= 4 ? Self.uint32(payload, at: 0) : nil
            case Self.goAway: payload.count >= 8 ? Self.uint32(payload, at: 4) : nil
            default: nil
            }
        }

        /// A GOAWAY frame's debug data.
        public var debugData: String {
            type == Self.goAway && payload.count > 8 ? String(decoding: payload[8...], as: UTF8.self) : ""
        }

        /// A WINDOW_UPDATE frame's increment.
        public var windowIncrement: UInt32? {
            type == Self.windowUpdate && payload.count >= 4 ? Self.uint32(payload, at: 0) & 0x7FFF_FFFF : nil
        }

        public var description: String { "frame type \(type) flags \(flags) stream \(stream) \(payload.count) bytes" }

        static func uint32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
            bytes[offset..<(offset + 4)].reduce(0) { $0 << 8 | UInt32($1) }
        }
    }

    public static let endStream: UInt8 = 0x1
    public static let enhanceYourCalm: UInt32 = 0xB

    private let connection: PlainHTTP.Connection
    private var received: [UInt8] = []
    /// Frames read and not yet asked for (SETTINGS and WINDOW_UPDATE are handled here).
    private var frames: [Frame] = []
    private var connectionWindow = 65_535
    private var initialStreamWindow = 65_535
    private var streamWindows: [UInt32: Int] = [:]

    /// Connects and sends `opening`: by default the client preface and an empty SETTINGS frame, after
    /// which it waits for the server's SETTINGS.
    public init(port: Int, opening: [UInt8]? = nil) throws {
        connection = try PlainHTTP.Connection(port: port)
        guard let opening else {
            try connection.send(Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8) + Self.frame(type: Frame.settings, flags: 0, stream: 0, payload: []))
            let deadline = Date().addingTimeInterval(10)
            while !settingsReceived, deadline.timeIntervalSinceNow > 0 { try readFrames(timeout: deadline.timeIntervalSinceNow) }
            return
        }
        try connection.send(opening)
    }

    private var settingsReceived = false

    /// Opens stream `stream` with a gRPC call of `path`.
    public func sendHeaders(stream: UInt32, path: String, endStream: Bool = false) throws {
        var block: [UInt8] = []
        for (name, value) in [
            (":method", "POST"), (":scheme", "http"), (":path", path), (":authority", "127.0.0.1"),
            ("content-type", "application/grpc"), ("te", "trailers"),
        ] {
            block.append(0)
            block += Self.hpackString(name) + Self.hpackString(value)
        }
        try connection.send(Self.frame(type: Frame.headers, flags: 0x4 | (endStream ? Self.endStream : 0), stream: stream, payload: block))
        streamWindows[stream] = initialStreamWindow
    }

    /// Sends DATA frames of at most 16 KiB carrying `bytes`, each once the windows allow it; throws if
    /// the server grants no window or stops reading for `timeout` seconds.
    public func sendData(stream: UInt32, _ bytes: [UInt8], endStream: Bool = false, timeout: Double = 30) throws {
        var offset = 0
        repeat {
            let end = min(bytes.count, offset + 16_384)
            let deadline = Date().addingTimeInterval(timeout)
            while min(connectionWindow, streamWindows[stream] ?? 0) < end - offset {
                guard deadline.timeIntervalSinceNow > 0 else {
                    throw TestFailure("no window for stream \(stream) (\(offset) of \(bytes.count) bytes sent)")
                }
                try readFrames(timeout: min(0.1, deadline.timeIntervalSinceNow))
            }
            connectionWindow -= end - offset
            streamWindows[stream, default: 0] -= end - offset
            let flags = end == bytes.count && endStream ? Self.endStream : 0
            try connection.send(Self.frame(type: Frame.data, flags: flags, stream: stream, payload: Array(bytes[offset..<end])), timeout: timeout)
            offset = end
        } while offset < bytes.count
    }

    /// Gives the server `increment` more bytes of window on `stream` (0: the connection).
    public func sendWindowUpdate(stream: UInt32, increment: Int) throws {
        try connection.send(Self.frame(type: Frame.windowUpdate, flags: 0, stream: stream, payload: Self.bigEndian(UInt64(increment), bytes: 4)))
    }

    public func sendPing(_ data: UInt64 = 0) throws {
        try connection.send(Self.frame(type: Frame.ping, flags: 0, stream: 0, payload: Self.bigEndian(data, bytes: 8)))
    }

    public func sendRstStream(stream: UInt32, errorCode: UInt32 = 8) throws {
        try connection.send(Self.frame(type: Frame.rstStream, flags: 0, stream: stream, payload: Self.bigEndian(UInt64(errorCode), bytes: 4)))
    }

    /// The next frame from the server other than SETTINGS and WINDOW_UPDATE, or nil if none arrives
    /// within `timeout` seconds or the connection closes.
    public func nextFrame(timeout: Double = 10) -> Frame? {
        let deadline = Date().addingTimeInterval(timeout)
        while frames.isEmpty {
            guard deadline.timeIntervalSinceNow > 0, (try? readFrames(timeout: deadline.timeIntervalSinceNow)) != nil else { return nil }
        }
        return frames.removeFirst()
    }

    /// Reads what has arrived within `timeout` seconds: answers SETTINGS, opens windows, queues the
    /// rest. Throws once the connection is closed.
    private func readFrames(timeout: Double) throws {
        if let chunk = connection.receive(timeout: timeout) {
            received += chunk
        } else if connection.isClosedByPeer {
            throw TestFailure("connection closed")
        }
        while received.count >= 9 {
            let length = Int(received[0]) << 16 | Int(received[1]) << 8 | Int(received[2])
            guard received.count >= 9 + length else { return }
            let frame = Frame(
                type: received[3], flags: received[4], stream: Frame.uint32(received, at: 5) & 0x7FFF_FFFF,
                payload: Array(received[9..<(9 + length)]))
            received.removeFirst(9 + length)
            switch frame.type {
            case Frame.settings where frame.flags & 1 == 0:
                for offset in stride(from: 0, to: frame.payload.count - 5, by: 6)
                where frame.payload[offset] == 0 && frame.payload[offset + 1] == 4 {
                    let window = Int(Frame.uint32(frame.payload, at: offset + 2))
                    for stream in streamWindows.keys { streamWindows[stream]! += window - initialStreamWindow }
                    initialStreamWindow = window
                }
                settingsReceived = true
                try connection.send(Self.frame(type: Frame.settings, flags: 1, stream: 0, payload: []))
            case Frame.settings:
                break
            case Frame.windowUpdate:
                let increment = Int(frame.windowIncrement ?? 0)
                if frame.stream == 0 { connectionWindow += increment } else { streamWindows[frame.stream, default: 0] += increment }
            default:
                frames.append(frame)
            }
        }
    }

    /// Reads frames until one satisfies `match`; nil if the connection closes or `timeout` passes first.
    public func awaitFrame(timeout: Double = 10, _ match: (Frame) -> Bool) -> Frame? {
        let deadline = Date().addingTimeInterval(timeout)
        while let frame = nextFrame(timeout: max(0, deadline.timeIntervalSinceNow)) {
            if match(frame) { return frame }
        }
        return nil
    }

    /// Whether the server closed the connection within `timeout` seconds (frames before are skipped).
    public func closedByServer(within timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while deadline.timeIntervalSinceNow > 0 {
            if connection.receive(timeout: deadline.timeIntervalSinceNow) == nil, connection.isClosedByPeer { return true }
        }
        return false
    }

    public func close() {
        connection.close()
    }

    static func frame(type: UInt8, flags: UInt8, stream: UInt32, payload: [UInt8]) -> [UInt8] {
        bigEndian(UInt64(payload.count), bytes: 3) + [type, flags] + bigEndian(UInt64(stream), bytes: 4) + payload
    }

    private static func bigEndian(_ value: UInt64, bytes: Int) -> [UInt8] {
        (0..<bytes).reversed().map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) }
    }

    /// An HPACK string literal without Huffman coding: its length as a 7-bit prefix integer, then its bytes.
    private static func hpackString(_ text: String) -> [UInt8] {
        let bytes = Array(text.utf8)
        var encoded: [UInt8] = []
        if bytes.count < 127 {
            encoded.append(UInt8(bytes.count))
        } else {
            encoded.append(127)
            var rest = bytes.count - 127
            while rest >= 128 {
                encoded.append(UInt8(rest % 128 + 128))
                rest /= 128
            }
            encoded.append(UInt8(rest))
        }
        return encoded + bytes
    }
}
