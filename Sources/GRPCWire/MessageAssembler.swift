import NIOCore

/// Splits a stream's DATA into gRPC messages, however the frames cut them. Both ends of a streaming
/// call need it: the gateway for client messages, the benchmark client for server responses.
public struct MessageAssembler {
    private var buffer: ByteBuffer?

    public init() {}

    public enum Failure: Error { case compressed, tooLarge }

    public mutating func append(_ bytes: inout ByteBuffer) {
        if buffer == nil { buffer = bytes } else { buffer!.writeBuffer(&bytes) }
    }

    /// The next complete message, if one has arrived.
    public mutating func next(maxMessageBytes: Int) throws(Failure) -> [UInt8]? {
        guard var pending = buffer, pending.readableBytes >= GRPCFraming.prefixLength,
              let compressed = pending.readInteger(as: UInt8.self), let length = pending.readInteger(as: UInt32.self)
        else { return nil }
        guard compressed == 0 else { throw .compressed }
        guard Int(length) <= maxMessageBytes else { throw .tooLarge }
        guard pending.readableBytes >= Int(length), let message = pending.readBytes(length: Int(length)) else { return nil }
        buffer = pending.readableBytes == 0 ? nil : pending
        return message
    }
}
