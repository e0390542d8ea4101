/// The commands of the request/reply protocol (see docs/bus.md, "Request/reply frames").
enum WireCommand: UInt8 {
    /// Client → server: a request; followed by one payload frame. Argument: timeout in milliseconds.
    case request = 0x01
    /// Client → server: a heartbeat; no payload frame. The server answers PONG with the same id.
    case ping = 0x02
    /// Server → client: one partial reply of a streamed answer; followed by one payload frame.
    case partial = 0x03
    /// Server → client: the final reply; followed by one payload frame. Argument: a `ReplyStatus`.
    case final = 0x04
    /// Server → client: the answer to PING; no payload frame.
    case pong = 0x05
}

/// The status carried by a FINAL reply.
enum ReplyStatus: UInt32 {
    case ok = 0
    /// The server dropped the request without answering it (handler released it, server closing).
    case unavailable = 1
    /// The server turned the request away without running it: its queue for that work was full.
    case overloaded = 2
}

/// The fixed 16-byte header frame that starts every request/reply message:
/// `'E' 'T' version command | request id (UInt64 BE) | argument (UInt32 BE)`.
struct WireHeader {
    static let size = 16
    static let signature0: UInt8 = 0x45  // "E"
    static let signature1: UInt8 = 0x54  // "T"
    static let version: UInt8 = 1

    var command: WireCommand
    var requestID: UInt64
    var argument: UInt32

    init(_ command: WireCommand, requestID: UInt64, argument: UInt32 = 0) {
        self.command = command
        self.requestID = requestID
        self.argument = argument
    }

    enum ParseError: Error, CustomStringConvertible {
        case wrongSize(Int)
        case badSignature
        case unsupportedVersion(UInt8)
        case unknownCommand(UInt8)

        var description: String {
            switch self {
            case .wrongSize(let size): "header frame of \(size) bytes, expected \(WireHeader.size)"
            case .badSignature: "header does not start with \"ET\""
            case .unsupportedVersion(let version): "unsupported protocol version \(version)"
            case .unknownCommand(let command): "unknown command 0x\(String(command, radix: 16))"
            }
        }
    }

    static func parse(_ bytes: UnsafeRawBufferPointer) -> Result<WireHeader, ParseError> {
        guard bytes.count == size else { return .failure(.wrongSize(bytes.count)) }
        guard bytes[0] == signature0, bytes[1] == signature1 else { return .failure(.badSignature) }
        guard bytes[2] == version else { return .failure(.unsupportedVersion(bytes[2])) }
        guard let command = WireCommand(rawValue: bytes[3]) else { return .failure(.unknownCommand(bytes[3])) }
        let requestID = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 4, as: UInt64.self))
        let argument = UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: 12, as: UInt32.self))
        return .success(WireHeader(command, requestID: requestID, argument: argument))
    }

    /// Calls `body` with the 16 encoded bytes (on the stack, no allocation).
    func withEncodedBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        var storage: (UInt64, UInt64) = (0, 0)
        return withUnsafeMutableBytes(of: &storage) { raw in
            raw[0] = Self.signature0
            raw[1] = Self.signature1
            raw[2] = Self.version
            raw[3] = command.rawValue
            raw.storeBytes(of: requestID.bigEndian, toByteOffset: 4, as: UInt64.self)
            raw.storeBytes(of: argument.bigEndian, toByteOffset: 12, as: UInt32.self)
            return body(UnsafeRawBufferPointer(raw))
        }
    }
}
