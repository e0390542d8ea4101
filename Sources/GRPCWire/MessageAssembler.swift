import NIOCore

/// Splits a stream's DATA into gRPC messages, however the frames cut them. Both ends of a streaming
/// call need it: the gateway for client messages, the benchmark client for server responses.
public struct MessageAssembler {
    private var buffer: ByteBuffer?

    public init() {}

    public enum Failure: Error { case compressed, tooLarge }

    /// Bytes received and not yet taken as messages.
    public var bufferedBytes: Int { buffer?.readableBytes ?? 0 }

    /// Adds received bytes. Bytes already taken are dropped first once they outweigh the ones
    /// kept, so a stream whose frames keep cutting messages in two holds one message, not its history.
    public mutating func append(_ bytes: inout ByteBuffer) {
        guard var pending = buffer else {
            buffer = bytes
            return
        }
        buffer = nil
        if pending.readerIndex > pending.readableBytes { pending.discardReadBytes() }
        pending.writeBuffer(&bytes)
        buffer = pending
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
