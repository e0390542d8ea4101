import GRPCWire
import NIOCore
import NIOHPACK
import NIOHTTP2

/// Serves the gRPC calls of one HTTP/2 connection straight from its frames: no channel and no task
/// per call, which is where grpc-swift's server spends most of its time. Requests are collected per stream, handed to the method table, and answered with
/// headers, one length-prefixed message and trailers (or trailers only, for errors).
final class GRPCConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame
    typealias OutboundOut = HTTP2Frame

    private struct PendingCall {
        var path: String
        var metadata: [String: String]
        var body: ByteBuffer?
    }

    private struct OpenStream {
        let call: StreamingCall
        var assembler = MessageAssembler()
        var headersSent = false
    }

    private let methods: MethodTable
    private let maxMessageBytes: Int
    /// The user named by the connection's verified client certificate (`--client-cert-auth`).
    private let certificateUser: String?
    private var calls: [HTTP2StreamID: PendingCall] = [:]
    private var streams: [HTTP2StreamID: OpenStream] = [:]
    private var context: ChannelHandlerContext?
    private var receiveWindow = ConnectionReceiveWindow()
    private var flushScheduled = false

    init(methods: MethodTable, maxMessageBytes: Int, certificateUser: String? = nil) {
        self.methods = methods
        self.maxMessageBytes = maxMessageBytes
        self.certificateUser = certificateUser
    }

    /// The handler joins a connection that is already open (once `ProtocolSniffer` has seen the
    /// HTTP/2 preface), so it starts here rather than in `channelActive`.
    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        context.writeAndFlush(wrapOutboundOut(ConnectionReceiveWindow.openingUpdate), promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.context = nil
        let open = streams
        streams = [:]
        for stream in open.values { stream.call.cancelled() }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        if case .data(let payload) = frame.payload, let update = receiveWindow.received(payload.data.readableBytes) {
            context.writeAndFlush(wrapOutboundOut(update), promise: nil)
        }
        if streams[frame.streamID] != nil {
            return streamRead(frame, context: context)
        }
        switch frame.payload {
        case .headers(let headers):
            if var call = calls[frame.streamID] {
                // Trailers from the client end the request.
                call.metadata.merge(Self.metadata(headers.headers)) { $1 }
                calls[frame.streamID] = call
                if headers.endStream { finish(frame.streamID, context: context) }
                return
            }
            let path = headers.headers.first(name: ":path") ?? ""
            if let open = methods.streamingMethod(for: path) {
                let writer = StreamWriter(
                    eventLoop: context.eventLoop, connection: NIOLoopBound(self, eventLoop: context.eventLoop),
                    stream: frame.streamID)
                streams[frame.streamID] = OpenStream(call: open(CallContext(metadata: Self.metadata(headers.headers), certificateUser: certificateUser), writer))
                return
            }
            calls[frame.streamID] = PendingCall(path: path, metadata: Self.metadata(headers.headers), body: nil)
            if headers.endStream { finish(frame.streamID, context: context) }
        case .data(let payload):
            guard case .byteBuffer(var bytes) = payload.data else { return }
            guard var call = calls[frame.streamID] else { return }
            if call.body == nil {
                call.body = bytes
            } else {
                call.body!.writeBuffer(&bytes)
            }
            // As grpc-go, the size reported is the one the message's prefix declares.
            if let body = call.body, let declared = body.getInteger(at: body.readerIndex + 1, as: UInt32.self),
               Int(declared) > maxMessageBytes || body.readableBytes > maxMessageBytes + 5 {
                calls[frame.streamID] = nil
                respond(stream: frame.streamID, with: .failure(GRPCStatus(
                    code: .resourceExhausted,
                    message: "grpc: received message larger than max (\(declared) vs. \(maxMessageBytes))")), context: context)
                return
            }
            calls[frame.streamID] = call
            if payload.endStream { finish(frame.streamID, context: context) }
        case .rstStream:
            calls[frame.streamID] = nil
        default:
            break
        }
    }

    /// Stream-level failures (a write to a stream the client already reset) concern one call only;
    /// connection-level protocol errors are answered and closed by `NIOHTTP2Handler` itself.
    func errorCaught(context: ChannelHandlerContext, error: Error) {}

    private func streamRead(_ frame: HTTP2Frame, context: ChannelHandlerContext) {
        switch frame.payload {
        case .data(let payload):
            guard case .byteBuffer(var bytes) = payload.data, let call = streams[frame.streamID]?.call else { return }
            streams[frame.streamID]?.assembler.append(&bytes)
            do {
                while let message = try streams[frame.streamID]?.assembler.next(maxMessageBytes: maxMessageBytes) {
                    call.received(message)
                }
            } catch {
                call.cancelled()
                let status = error == .compressed
                    ? GRPCStatus(code: .unimplemented, message: "grpc: compressed requests are not supported")
                    : GRPCStatus(code: .resourceExhausted, message: "grpc: received message larger than max")
                return finishStream(frame.streamID, status: status)
            }
            if payload.endStream { streams[frame.streamID]?.call.clientFinished() }
        case .headers(let headers) where headers.endStream:
            streams[frame.streamID]?.call.clientFinished()
        case .rstStream:
            streams.removeValue(forKey: frame.streamID)?.call.cancelled()
        default:
            break
        }
    }

    func sendStreamMessage(_ message: [UInt8], on stream: HTTP2StreamID, written: (@Sendable () -> Void)?) {
        guard let context, streams[stream] != nil else { return }
        if streams[stream]?.headersSent == false {
            streams[stream]?.headersSent = true
            context.write(wrapOutboundOut(HTTP2Frame(streamID: stream, payload: .headers(.init(headers: Self.responseHeaders)))), promise: nil)
        }
        let promise = written.map { callback in
            let promise = context.eventLoop.makePromise(of: Void.self)
            promise.futureResult.whenSuccess { callback() }
            return promise
        }
        let buffer = GRPCFraming.framed(message, allocator: context.channel.allocator)
        context.write(wrapOutboundOut(HTTP2Frame(streamID: stream, payload: .data(.init(data: .byteBuffer(buffer))))), promise: promise)
        scheduleFlush(context: context)
    }

    func finishStream(_ stream: HTTP2StreamID, status: GRPCStatus) {
        guard let context, let open = streams.removeValue(forKey: stream) else { return }
        writeTrailers(status, on: stream, afterHeaders: open.headersSent, context: context)
        scheduleFlush(context: context)
    }

    /// Ends a stream with `status`; without response headers before it, the trailers carry them too
    /// (gRPC's trailers-only response).
    private func writeTrailers(_ status: GRPCStatus, on stream: HTTP2StreamID, afterHeaders: Bool, context: ChannelHandlerContext) {
        var trailers = afterHeaders ? HPACKHeaders() : Self.responseHeaders
        trailers.add(name: "grpc-status", value: String(status.code.rawValue))
        if !status.message.isEmpty {
            trailers.add(name: "grpc-message", value: GRPCFraming.percentEncoded(status.message))
        }
        context.write(wrapOutboundOut(HTTP2Frame(streamID: stream, payload: .headers(.init(headers: trailers, endStream: true)))), promise: nil)
    }

    private static let responseHeaders: HPACKHeaders = [":status": "200", "content-type": "application/grpc"]

    private func finish(_ stream: HTTP2StreamID, context: ChannelHandlerContext) {
        guard let call = calls.removeValue(forKey: stream) else { return }
        let handler: MethodTable.Handler
        switch methods.handler(for: call.path) {
        case .success(let found): handler = found
        case .failure(let status): return respond(stream: stream, with: .failure(status), context: context)
        }
        let message: [UInt8]
        switch GRPCFraming.singleMessage(in: call.body) {
        case .success(let bytes): message = bytes
        case .failure(.malformed):
            return respond(stream: stream, with: .failure(GRPCStatus(code: .internalError, message: "grpc: malformed request message")), context: context)
        case .failure(.compressed):
            return respond(stream: stream, with: .failure(GRPCStatus(code: .unimplemented, message: "grpc: compressed requests are not supported")), context: context)
        }
        let loop = context.eventLoop
        let boundContext = NIOLoopBound(context, eventLoop: loop)
        let boundSelf = NIOLoopBound(self, eventLoop: loop)
        handler(message, CallContext(metadata: call.metadata, certificateUser: certificateUser)) { result in
            if loop.inEventLoop {
                boundSelf.value.respond(stream: stream, with: result, context: boundContext.value)
            } else {
                loop.execute { boundSelf.value.respond(stream: stream, with: result, context: boundContext.value) }
            }
        }
    }

    private func respond(stream: HTTP2StreamID, with result: Result<[UInt8], GRPCStatus>, context: ChannelHandlerContext) {
        switch result {
        case .success(let message):
            context.write(wrapOutboundOut(HTTP2Frame(streamID: stream, payload: .headers(.init(headers: Self.responseHeaders)))), promise: nil)
            let buffer = GRPCFraming.framed(message, allocator: context.channel.allocator)
            context.write(wrapOutboundOut(HTTP2Frame(streamID: stream, payload: .data(.init(data: .byteBuffer(buffer))))), promise: nil)
            writeTrailers(GRPCStatus(code: .ok, message: ""), on: stream, afterHeaders: true, context: context)
        case .failure(let status):
            writeTrailers(status, on: stream, afterHeaders: false, context: context)
        }
        scheduleFlush(context: context)
    }

    /// Flushes once after the answers that are ready in this turn of the event loop, so that under load
    /// many responses leave in one write instead of one system call each.
    private func scheduleFlush(context: ChannelHandlerContext) {
        guard !flushScheduled else { return }
        flushScheduled = true
        let boundContext = NIOLoopBound(context, eventLoop: context.eventLoop)
        let boundSelf = NIOLoopBound(self, eventLoop: context.eventLoop)
        context.eventLoop.execute {
            boundSelf.value.flushScheduled = false
            boundContext.value.flush()
        }
    }

    private static func metadata(_ headers: HPACKHeaders) -> [String: String] {
        var metadata: [String: String] = [:]
        for (name, value, _) in headers where !name.hasPrefix(":") {
            metadata[name] = value
        }
        return metadata
    }
}
