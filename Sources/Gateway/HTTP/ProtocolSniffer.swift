import NIOCore

/// Serves gRPC and HTTP/1.1 on one port, as etcd does: a gRPC client opens its connection with the
/// HTTP/2 preface, anything else is HTTP/1.1 (curl, etcd's JSON API, `/health`). The sniffer reads
/// until the first bytes decide, installs the handlers for that protocol behind itself, hands them
/// the bytes read so far and leaves the pipeline.
///
/// A connection that has not told its protocol within the handshake timeout (counted from when the
/// sniffer joins the pipeline, so a TLS handshake in front of it counts too) is closed: a peer that
/// connects and sends nothing holds no file descriptor for long.
final class ProtocolSniffer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    /// Adds the handlers of a protocol to a pipeline, on its event loop.
    typealias Configure = (ChannelPipeline.SynchronousOperations) throws -> Void

    private static let http2Preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    private let http2: Configure
    private let http1: Configure
    private let handshakeTimeout: TimeAmount
    private var received: ByteBuffer?
    private var deadline: Scheduled<Void>?

    init(handshakeTimeout: TimeAmount, http2: @escaping Configure, http1: @escaping Configure) {
        self.handshakeTimeout = handshakeTimeout
        self.http2 = http2
        self.http1 = http1
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: handshakeTimeout) { channel.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if var received {
            received.writeBuffer(&bytes)
            self.received = received
        } else {
            received = bytes
        }
        guard let buffer = received else { return }
        let length = min(buffer.readableBytes, Self.http2Preface.count)
        let prefix = buffer.getBytes(at: buffer.readerIndex, length: length) ?? []
        let isHTTP2 = prefix[...] == Self.http2Preface.prefix(length)
        if isHTTP2, length < Self.http2Preface.count { return }
        do {
            try (isHTTP2 ? http2 : http1)(context.pipeline.syncOperations)
        } catch {
            context.fireErrorCaught(error)
            return context.close(promise: nil)
        }
        received = nil
        context.fireChannelRead(wrapInboundOut(buffer))
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
