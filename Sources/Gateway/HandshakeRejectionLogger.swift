import Logging
import NIOCore
import NIOTLS

/// Logs a connection whose TLS handshake fails, as etcd logs `rejected connection from "ADDR" (error
/// "…")`: the one place an operator sees why a client without the right certificate is refused (the
/// client itself only sees a closed connection or a TLS alert).
final class HandshakeRejectionLogger: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let logger: Logger

    init(logger: Logger) {
        self.logger = logger
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event {
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        logger.info("rejected connection", metadata: [
            "remote-addr": "\(context.channel.remoteAddress.map { "\($0)" } ?? "?")", "error": "\(error)",
        ])
        context.fireErrorCaught(error)
    }
}
