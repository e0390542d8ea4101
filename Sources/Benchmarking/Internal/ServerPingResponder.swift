import NIOCore

/// Answers the server's HTTP/2 PING frames itself, before swift-nio-http2 sees them.
///
/// etcd's gRPC server (grpc-go) estimates bandwidth-delay product by sending a PING about once per
/// round trip while data flows, which under benchmark load is hundreds of PINGs a second.
/// swift-nio-http2 1.46 treats more than 200 PING/SETTINGS frames in 30 s as a denial-of-service
/// attempt and closes the connection (the benchmark then sees `unavailable: "subchannel isn't
/// ready"`), and grpc-swift-nio-transport 2.9 does not expose that limit. This handler sits next to
/// the socket on plaintext connections, parses only frame headers, acknowledges each PING exactly as
/// the HTTP/2 stack would (RFC 9113 §6.7), and forwards every other byte untouched.
final class ServerPingResponder: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private static let headerLength = 9
    private static let pingLength = headerLength + 8
    private static let pingType: UInt8 = 0x6
    private static let ackFlag: UInt8 = 0x1

    /// Payload bytes of the current (non-PING) frame still to forward.
    private var remainingPayload = 0
    /// A frame header, or a whole PING frame, split across reads.
    private var pending = ByteBuffer()

    init() {}

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var input = unwrapInboundIn(data)
        while input.readableBytes > 0 {
            if remainingPayload > 0 {
                let length = min(remainingPayload, input.readableBytes)
                remainingPayload -= length
                context.fireChannelRead(wrapInboundOut(input.readSlice(length: length)!))
                continue
            }
            if pending.readableBytes == 0, input.readableBytes >= Self.headerLength {
                let header = Self.header(of: input)
                if header.isPing {
                    if input.readableBytes >= Self.pingLength {
                        acknowledge(input.readSlice(length: Self.pingLength)!, context: context)
                    } else {
                        pending.writeBuffer(&input)
                    }
                    continue
                }
                remainingPayload = header.length
                context.fireChannelRead(wrapInboundOut(input.readSlice(length: Self.headerLength)!))
                continue
            }
            let wanted = pending.readableBytes < Self.headerLength ? Self.headerLength : Self.pingLength
            var chunk = input.readSlice(length: min(wanted - pending.readableBytes, input.readableBytes))!
            pending.writeBuffer(&chunk)
            guard pending.readableBytes >= Self.headerLength else { continue }
            let header = Self.header(of: pending)
            if header.isPing {
                if pending.readableBytes == Self.pingLength {
                    acknowledge(pending, context: context)
                    pending = ByteBuffer()
                }
                continue
            }
            remainingPayload = header.length
            context.fireChannelRead(wrapInboundOut(pending))
            pending = ByteBuffer()
        }
    }

    private func acknowledge(_ ping: ByteBuffer, context: ChannelHandlerContext) {
        var ack = context.channel.allocator.buffer(capacity: Self.pingLength)
        ack.writeBytes([0, 0, 8, Self.pingType, Self.ackFlag, 0, 0, 0, 0])
        ack.writeBytes(ping.readableBytesView.dropFirst(Self.headerLength))
        context.writeAndFlush(wrapOutboundOut(ack), promise: nil)
    }

    private static func header(of buffer: ByteBuffer) -> (length: Int, isPing: Bool) {
        let start = buffer.readerIndex
        let length =
            Int(buffer.getInteger(at: start, as: UInt8.self)!) << 16
            | Int(buffer.getInteger(at: start + 1, as: UInt8.self)!) << 8
            | Int(buffer.getInteger(at: start + 2, as: UInt8.self)!)
        let type = buffer.getInteger(at: start + 3, as: UInt8.self)!
        let flags = buffer.getInteger(at: start + 4, as: UInt8.self)!
        return (length, type == pingType && flags & ackFlag == 0 && length == 8)
    }
}
