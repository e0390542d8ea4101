import NIOCore

/// gRPC's message framing over HTTP/2 DATA: a compression flag byte and a big-endian length before
/// each message. Shared by the gateway (server) and the benchmark client, which both speak gRPC
/// straight from HTTP/2 frames.
public enum GRPCFraming {
    /// Bytes before each message.
    public static let prefixLength = 5

    /// `message` with its length prefix (uncompressed).
    public static func framed(_ message: some Collection<UInt8>, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: message.count + prefixLength)
        append(message, to: &buffer)
        return buffer
    }

    /// `messages` one after the other, each with its length prefix: one buffer, and so one DATA
    /// frame, for answers that are ready together.
    public static func framed(_ messages: [[UInt8]], allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: messages.reduce(0) { $0 + $1.count + prefixLength })
        for message in messages { append(message, to: &buffer) }
        return buffer
    }

    private static func append(_ message: some Collection<UInt8>, to buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(0))
        buffer.writeInteger(UInt32(message.count))
        buffer.writeBytes(message)
    }

    /// Why a unary body could not be read as exactly one message.
    public enum UnframingError: Error, Sendable {
        case malformed
        case compressed
    }

    /// The single message a unary body carries.
    public static func singleMessage(in body: ByteBuffer?) -> Result<[UInt8], UnframingError> {
        guard var body, body.readableBytes >= prefixLength,
              let compressed = body.readInteger(as: UInt8.self), let length = body.readInteger(as: UInt32.self),
              body.readableBytes == Int(length)
        else { return .failure(.malformed) }
        guard compressed == 0 else { return .failure(.compressed) }
        return .success(body.readBytes(length: Int(length)) ?? [])
    }

    /// gRPC's percent-encoding of `grpc-message`: printable ASCII except `%` travels as is.
    public static func percentEncoded(_ message: String) -> String {
        var encoded = ""
        for byte in message.utf8 {
            if byte >= 0x20, byte <= 0x7E, byte != UInt8(ascii: "%") {
                encoded.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                let hex = String(byte, radix: 16, uppercase: true)
                encoded += hex.count == 1 ? "%0" + hex : "%" + hex
            }
        }
        return encoded
    }

    /// The inverse of ``percentEncoded(_:)``; malformed escapes are kept as they are.
    public static func percentDecoded(_ message: String) -> String {
        var bytes: [UInt8] = []
        var utf8 = Array(message.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "%"), utf8.count >= 2,
               let value = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(value)
                utf8 = utf8.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
