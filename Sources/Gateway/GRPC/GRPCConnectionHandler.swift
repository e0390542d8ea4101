import GRPCWire
import NIOCore
import NIOHPACK
import NIOHTTP2

/// Serves the gRPC calls of one HTTP/2 connection straight from its frames: no channel and no task
/// per call, which is where grpc-swift's server spends most of its time. Requests are collected per stream, handed to the method table, and answered with
/// headers, one length-prefixed message and trailers (or trailers only, for errors).
///
/// What one connection can make the gateway hold is bounded, as a production server's must be:
/// - Each stream's receive window is re-opened (WINDOW_UPDATE) only for the bytes of messages its
///   call has taken, so a stream whose call is paused (``StreamDemand``) stops its client.
/// - Request bytes buffered and not yet handed to a call, across all streams, stay within
///   ``Limits/bufferedBytes``; the stream whose bytes would go beyond is answered ResourceExhausted.
/// - At most ``Limits/dispatchedCalls`` unary calls run at once; past that the connection is not
///   read until answers come back, so streams opened and reset at once ("rapid reset") cannot queue
///   work without end.
final class GRPCConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTP2Frame
    typealias OutboundIn = HTTP2Frame
    typealias OutboundOut = HTTP2Frame

    struct Limits: Sendable {
        /// Request bytes (headers of calls not dispatched yet, bodies, stream messages not taken)
        /// one connection may have buffered.
        var bufferedBytes: Int
        /// Unary calls one connection may have running.
        var dispatchedCalls: Int

        /// Room for sixteen paused streams with full windows.
        static func `default`(maxMessageBytes: Int) -> Limits {
            Limits(bufferedBytes: 16 * HTTP2Tuning.streamWindow(maxMessageBytes: maxMessageBytes), dispatchedCalls: 1024)
        }
    }

    private struct PendingCall {
        var path: String
        var metadata: [String: String]
        var body: ByteBuffer?
        /// What the call counts against ``Limits/bufferedBytes``.
        var charge: Int
    }

    private struct OpenStream {
        let call: StreamingCall
        var assembler = MessageAssembler()
        var headersSent = false
        /// The call answered `.paused`: messages wait in the assembler and the window stays shut.
        var paused = false
        /// The client ended its side; the call hears it after the messages before it.
        var clientEnded = false
        var clientEndDelivered = false
        /// Flow-controlled bytes taken off the stream and not yet given back in a WINDOW_UPDATE.
        var consumed = 0
    }

    /// Bytes a call is charged besides its headers and body: the stream's own bookkeeping.
    private static let streamOverhead = 256

    private let methods: MethodTable
    private let maxMessageBytes: Int
    private let limits: Limits
    /// Half the stream window: consumed bytes are given back in updates of at least this size.
    private let windowUpdateThreshold: Int
    /// The user named by the connection's verified client certificate (`--client-cert-auth`).
    private let certificateUser: String?
    private var calls: [HTTP2StreamID: PendingCall] = [:]
    private var streams: [HTTP2StreamID: OpenStream] = [:]
    private var context: ChannelHandlerContext?
    private var receiveWindow = ConnectionReceiveWindow()
    private var flushScheduled = false
    private var bufferedBytes = 0
    private var dispatchedCalls = 0
    /// A read the channel asked for while too many calls were running; passed on once they answer.
    private var withheldRead = false

    init(methods: MethodTable, maxMessageBytes: Int, limits: Limits? = nil, certificateUser: String? = nil) {
        self.methods = methods
        self.maxMessageBytes = maxMessageBytes
        self.limits = limits ?? .default(maxMessageBytes: maxMessageBytes)
        windowUpdateThreshold = HTTP2Tuning.streamWindow(maxMessageBytes: maxMessageBytes) / 2
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
        calls = [:]
        bufferedBytes = 0
        for stream in open.values { stream.call.cancelled() }
        context.fireChannelInactive()
    }

    func read(context: ChannelHandlerContext) {
        guard dispatchedCalls < limits.dispatchedCalls else {
            withheldRead = true
            return
        }
        context.read()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        if case .data(let payload) = frame.payload, let update = receiveWindow.received(Self.flowControlledLength(payload)) {
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
            let metadata = Self.metadata(headers.headers)
            let charge = Self.streamOverhead + path.utf8.count + metadata.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count }
            calls[frame.streamID] = PendingCall(path: path, metadata: metadata, body: nil, charge: charge)
            bufferedBytes += charge
            if headers.endStream {
                finish(frame.streamID, context: context)
            } else if bufferedBytes > limits.bufferedBytes {
                refuseOverBudget(frame.streamID, context: context)
            }
        case .data(let payload):
            guard case .byteBuffer(var bytes) = payload.data else { return }
            guard var call = calls[frame.streamID] else { return }
            calls[frame.streamID] = nil
            let size = bytes.readableBytes
            bufferedBytes += size
            call.charge += size
            if call.body == nil {
                call.body = bytes
            } else {
                call.body!.writeBuffer(&bytes)
            }
            calls[frame.streamID] = call
            // As grpc-go, the size reported is the one the message's prefix declares; a declared size
            // over the limit is refused before the rest of the body is buffered.
            if let body = call.body, let declared = body.getInteger(at: body.readerIndex + 1, as: UInt32.self),
               Int(declared) > maxMessageBytes || body.readableBytes > maxMessageBytes + GRPCFraming.prefixLength {
                release(frame.streamID)
                respond(stream: frame.streamID, with: .failure(GRPCStatus(
                    code: .resourceExhausted,
                    message: "grpc: received message larger than max (\(declared) vs. \(maxMessageBytes))")), context: context)
                return
            }
            if payload.endStream {
                finish(frame.streamID, context: context)
            } else if bufferedBytes > limits.bufferedBytes {
                refuseOverBudget(frame.streamID, context: context)
            }
        case .rstStream:
            release(frame.streamID)
        default:
            break
        }
    }

    /// `NIOHTTP2Handler` answers a connection error with GOAWAY but leaves closing to its user, and
    /// then stops parsing while bytes keep arriving; so every error but a stream's ends the
    /// connection, as grpc-swift's server decides.
    func errorCaught(context: ChannelHandlerContext, error: Error) {
        switch error {
        case is NIOHTTP2Errors.StreamError, is NIOHTTP2Errors.NoSuchStream:
            break
        default:
            context.close(promise: nil)
        }
    }

    private func streamRead(_ frame: HTTP2Frame, context: ChannelHandlerContext) {
        let id = frame.streamID
        switch frame.payload {
        case .data(let payload):
            guard case .byteBuffer(var bytes) = payload.data else { return }
            let size = bytes.readableBytes
            if bufferedBytes + size > limits.bufferedBytes {
                streams[id]?.call.cancelled()
                return overBudget(id, context: context)
            }
            bufferedBytes += size
            streams[id]?.assembler.append(&bytes)
            // Padding carries no message: its window comes back with the next update.
            streams[id]?.consumed += Self.flowControlledLength(payload) - size
            if payload.endStream { streams[id]?.clientEnded = true }
            passMessages(on: id, context: context)
        case .headers(let headers) where headers.endStream:
            streams[id]?.clientEnded = true
            passMessages(on: id, context: context)
        case .rstStream:
            if let stream = streams.removeValue(forKey: id) {
                bufferedBytes -= stream.assembler.bufferedBytes
                stream.call.cancelled()
            }
        default:
            break
        }
    }

    /// Hands the stream's complete messages to its call until it pauses, then gives their bytes back
    /// to the client's window, and tells the call when the client has ended its side.
    private func passMessages(on id: HTTP2StreamID, context: ChannelHandlerContext) {
        guard var stream = streams[id] else { return }
        while !stream.paused {
            let before = stream.assembler.bufferedBytes
            let message: [UInt8]
            do {
                guard let next = try stream.assembler.next(maxMessageBytes: maxMessageBytes) else { break }
                message = next
            } catch {
                stream.call.cancelled()
                let status = error == .compressed
                    ? GRPCStatus(code: .unimplemented, message: "grpc: compressed requests are not supported")
                    : GRPCStatus(code: .resourceExhausted, message: "grpc: received message larger than max")
                streams[id] = stream
                return finishStream(id, status: status)
            }
            let taken = before - stream.assembler.bufferedBytes
            bufferedBytes -= taken
            stream.consumed += taken
            // The call may answer, finish or resume from here: the stream is stored before it runs.
            streams[id] = stream
            let demand = stream.call.received(message)
            guard let current = streams[id] else { return }
            stream = current
            if demand == .paused { stream.paused = true }
        }
        if stream.consumed >= windowUpdateThreshold, !stream.clientEnded {
            context.write(wrapOutboundOut(HTTP2Frame(streamID: id, payload: .windowUpdate(windowSizeIncrement: stream.consumed))), promise: nil)
            scheduleFlush(context: context)
            stream.consumed = 0
        }
        let deliverEnd = !stream.paused && stream.clientEnded && !stream.clientEndDelivered
        if deliverEnd { stream.clientEndDelivered = true }
        streams[id] = stream
        if deliverEnd { stream.call.clientFinished() }
    }

    /// The call of `stream` takes messages again.
    func resumeStream(_ id: HTTP2StreamID) {
        guard let context, streams[id]?.paused == true else { return }
        streams[id]?.paused = false
        passMessages(on: id, context: context)
    }

    /// Writes `messages` as one DATA frame (NIO splits it as the client's frame size and window need).
    func sendStreamMessages(_ messages: [[UInt8]], on stream: HTTP2StreamID, written: (@Sendable () -> Void)?) {
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
        let buffer = GRPCFraming.framed(messages, allocator: context.channel.allocator)
        context.write(wrapOutboundOut(HTTP2Frame(streamID: stream, payload: .data(.init(data: .byteBuffer(buffer))))), promise: promise)
        scheduleFlush(context: context)
    }

    func finishStream(_ stream: HTTP2StreamID, status: GRPCStatus) {
        guard let context, let open = streams.removeValue(forKey: stream) else { return }
        bufferedBytes -= open.assembler.bufferedBytes
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

    /// Forgets a call that was not dispatched, and what it was charged.
    private func release(_ stream: HTTP2StreamID) {
        if let call = calls.removeValue(forKey: stream) { bufferedBytes -= call.charge }
    }

    private func refuseOverBudget(_ stream: HTTP2StreamID, context: ChannelHandlerContext) {
        release(stream)
        overBudget(stream, context: context)
    }

    /// Answers a stream whose request bytes would take the connection past its budget. The rest of its
    /// request may still come (the stream is half-closed, not reset, so that DATA in flight is no
    /// protocol error); it is dropped as it arrives.
    private func overBudget(_ stream: HTTP2StreamID, context: ChannelHandlerContext) {
        let status = GRPCStatus(code: .resourceExhausted, message: "etcetera: too many request bytes buffered on this connection")
        if let open = streams.removeValue(forKey: stream) {
            bufferedBytes -= open.assembler.bufferedBytes
            writeTrailers(status, on: stream, afterHeaders: open.headersSent, context: context)
        } else {
            writeTrailers(status, on: stream, afterHeaders: false, context: context)
        }
        scheduleFlush(context: context)
    }

    private func finish(_ stream: HTTP2StreamID, context: ChannelHandlerContext) {
        guard let call = calls.removeValue(forKey: stream) else { return }
        bufferedBytes -= call.charge
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
        dispatchedCalls += 1
        handler(message, CallContext(metadata: call.metadata, certificateUser: certificateUser)) { result in
            if loop.inEventLoop {
                boundSelf.value.answered(stream: stream, with: result, context: boundContext.value)
            } else {
                loop.execute { boundSelf.value.answered(stream: stream, with: result, context: boundContext.value) }
            }
        }
    }

    private func answered(stream: HTTP2StreamID, with result: Result<[UInt8], GRPCStatus>, context: ChannelHandlerContext) {
        dispatchedCalls -= 1
        respond(stream: stream, with: result, context: context)
        if withheldRead, dispatchedCalls <= limits.dispatchedCalls / 2 {
            withheldRead = false
            context.read()
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

    /// The bytes of a DATA frame that count against flow-control windows: its data, its padding and
    /// the byte that gives the padding's length.
    private static func flowControlledLength(_ payload: HTTP2Frame.FramePayload.Data) -> Int {
        payload.data.readableBytes + (payload.paddingBytes.map { $0 + 1 } ?? 0)
    }

    private static func metadata(_ headers: HPACKHeaders) -> [String: String] {
        var metadata: [String: String] = [:]
        for (name, value, _) in headers where !name.hasPrefix(":") {
            metadata[name] = value
        }
        return metadata
    }
}
