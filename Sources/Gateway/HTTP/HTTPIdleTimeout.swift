import NIOCore
import NIOHTTP1

/// Closes an HTTP/1.1 connection that has had no request in progress for the idle timeout (see
/// `ClientPortServer.Configuration.idleTimeout`). A request counts from its head until the end of
/// its response, so a JSON-gateway watch or keep-alive stream that runs for days keeps its
/// connection however quiet it is; only a kept-alive connection between requests is idle.
final class HTTPIdleTimeout: ChannelDuplexHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let timeout: TimeAmount
    private var requestsInProgress = 0
    private var idleClose: Scheduled<Void>?

    init(_ timeout: TimeAmount) {
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        scheduleClose(context: context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        idleClose?.cancel()
        idleClose = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        idleClose?.cancel()
        idleClose = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head = unwrapInboundIn(data) {
            requestsInProgress += 1
            idleClose?.cancel()
            idleClose = nil
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            requestsInProgress = max(0, requestsInProgress - 1)
            if requestsInProgress == 0 { scheduleClose(context: context) }
        }
        context.write(data, promise: promise)
    }

    private func scheduleClose(context: ChannelHandlerContext) {
        idleClose?.cancel()
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        idleClose = context.eventLoop.scheduleTask(in: timeout) {
            let (handler, context) = bound.value
            handler.idleClose = nil
            if handler.requestsInProgress == 0 { context.close(promise: nil) }
        }
    }
}
