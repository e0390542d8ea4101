import GRPCWire
import NIOCore
import NIOHPACK
import NIOHTTP2

/// What a streaming call's owner hears, on the connection's event loop.
protocol StreamObserver: AnyObject {
    func received(_ message: [UInt8])
    /// The server ended the stream (or the connection closed); nothing follows.
    func streamClosed(_ status: GRPCStatus)
}

private struct OpenStream {
    let observer: any StreamObserver
    var assembler = MessageAssembler()
}

/// A failed call, described as grpc-go describes it (`rpc error: code = Unavailable desc = …`) so the
/// report's error distribution reads like etcd's tool's.
struct CallFailure: Error, Sendable, CustomStringConvertible {
    let status: GRPCStatus

    init(_ code: GRPCStatus.Code, _ message: String) {
        status = GRPCStatus(code: code, message: message)
    }

    var description: String { status.goErrorText }
}

/// The client end of one HTTP/2 connection carrying gRPC calls, unary and streaming, driven straight
/// from frames.
///
/// A load generator on the same two cores as the server takes CPU from the server it measures;
/// grpc-swift's client spends a channel, a task and several allocations per call, more than the
/// servers spend answering it. This handler writes a HEADERS and a DATA frame per call and reads back
/// only the status. It also answers the server's PINGs without limit, which grpc-go servers (etcd) send
/// about once per round trip.
final class ClientConnection: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame
    typealias OutboundOut = HTTP2Frame
    typealias Completion = (Result<Void, CallFailure>) -> Void

    private struct PendingCall {
        var completion: Completion
        var deadline: Scheduled<Void>?
        /// A streaming method called for one response: the call succeeds with the first message and
        /// the stream is then reset, as clientv3's `KeepAliveOnce` cancels its stream.
        var endsAtFirstMessage = false
    }

    private let authority: String
    private let eventLoop: any EventLoop
    private var context: ChannelHandlerContext?
    private var nextStreamID = 1
    private var calls: [HTTP2StreamID: PendingCall] = [:]
    private var streams: [HTTP2StreamID: OpenStream] = [:]
    private var headersByPath: [String: HPACKHeaders] = [:]
    /// Sent as `token` metadata with every call once set (after Authenticate), as clientv3 sends it.
    var token: String? {
        didSet { headersByPath = [:] }
    }
    private var receiveWindow = ConnectionReceiveWindow()
    private var reading = false
    private var needsFlush = false

    init(authority: String, eventLoop: any EventLoop) {
        self.authority = authority
        self.eventLoop = eventLoop
    }

    func channelActive(context: ChannelHandlerContext) {
        self.context = context
        context.writeAndFlush(wrapOutboundOut(ConnectionReceiveWindow.openingUpdate), promise: nil)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.context = nil
        let pending = calls
        calls = [:]
        for call in pending.values {
            call.deadline?.cancel()
            call.completion(.failure(Self.closed))
        }
        let open = streams
        streams = [:]
        for stream in open.values { stream.observer.streamClosed(Self.closed.status) }
        context.fireChannelInactive()
    }

    private static let closed = CallFailure(.unavailable, "transport is closing")

    /// Starts a call of `path` with an already framed request message. Must be called on the
    /// connection's event loop; `completion` runs there too, never inside this call, so a worker that
    /// sends again from its completion cannot recurse.
    func call(
        path: String, framedRequest: ByteBuffer, timeout: TimeAmount?, endsAtFirstMessage: Bool = false,
        completion: @escaping Completion
    ) {
        guard let context else {
            eventLoop.assumeIsolated().execute { completion(.failure(Self.closed)) }
            return
        }
        let stream = HTTP2StreamID(nextStreamID)
        nextStreamID += 2
        let headers = requestHeaders(path: path)
        var call = PendingCall(completion: completion, endsAtFirstMessage: endsAtFirstMessage)
        if let timeout {
            call.deadline = eventLoop.assumeIsolated().scheduleTask(in: timeout) { self.expire(stream) }
        }
        calls[stream] = call
        context.write(wrapOutboundOut(HTTP2Frame(streamID: stream, payload: .headers(.init(headers: headers)))), promise: nil)
        context.write(
            wrapOutboundOut(HTTP2Frame(streamID: stream, payload: .data(.init(data: .byteBuffer(framedRequest), endStream: !endsAtFirstMessage)))),
            promise: nil)
        flushUnlessReading(context)
    }

    private func flushUnlessReading(_ context: ChannelHandlerContext) {
        if reading {
            needsFlush = true
        } else {
            context.flush()
        }
    }

    /// Opens a streaming call of `path`; `observer` gets each response message and then the status,
    /// on the connection's event loop. Must be called on that loop.
    func openStream(path: String, observer: any StreamObserver) -> HTTP2StreamID? {
        guard let context else { return nil }
        let stream = HTTP2StreamID(nextStreamID)
        nextStreamID += 2
        streams[stream] = OpenStream(observer: observer)
        context.write(wrapOutboundOut(HTTP2Frame(streamID: stream, payload: .headers(.init(headers: requestHeaders(path: path))))), promise: nil)
        flushUnlessReading(context)
        return stream
    }

    /// Sends one already framed message on an open streaming call; `endStream` ends the request side
    /// (a unary call whose response is wanted is such a stream with one message).
    func send(_ framedMessage: ByteBuffer, on stream: HTTP2StreamID, endStream: Bool = false) {
        guard let context, streams[stream] != nil else { return }
        context.write(
            wrapOutboundOut(HTTP2Frame(streamID: stream, payload: .data(.init(data: .byteBuffer(framedMessage), endStream: endStream)))),
            promise: nil)
        flushUnlessReading(context)
    }

    /// A workload calls one method, so its request headers are built once.
    private func requestHeaders(path: String) -> HPACKHeaders {
        if let cached = headersByPath[path] { return cached }
        var headers: HPACKHeaders = [
            ":method": "POST", ":scheme": "http", ":path": path, ":authority": authority,
            "content-type": "application/grpc", "te": "trailers",
        ]
        if let token { headers.add(name: "token", value: token) }
        headersByPath[path] = headers
        return headers
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        reading = true
        let frame = unwrapInboundIn(data)
        switch frame.payload {
        case .headers(let headers) where headers.endStream:
            // Trailers, or a trailers-only response carrying an error.
            let code = headers.headers.first(name: "grpc-status").flatMap { Int($0) }.flatMap(GRPCStatus.Code.init(rawValue:))
            switch code {
            case .some(.ok):
                complete(frame.streamID, with: .success(()))
            case .some(let code):
                let message = GRPCFraming.percentDecoded(headers.headers.first(name: "grpc-message") ?? "")
                complete(frame.streamID, with: .failure(CallFailure(code, message)))
            case .none:
                let status = headers.headers.first(name: ":status") ?? "none"
                complete(frame.streamID, with: .failure(CallFailure(.unknown, "response without grpc-status (HTTP status \(status))")))
            }
        case .data(let payload):
            if let update = receiveWindow.received(payload.data.readableBytes) {
                context.write(wrapOutboundOut(update), promise: nil)
                needsFlush = true
            }
            if case .byteBuffer(var bytes) = payload.data, streams[frame.streamID] != nil {
                deliver(&bytes, on: frame.streamID)
            }
            if calls[frame.streamID]?.endsAtFirstMessage == true, payload.data.readableBytes > 0 {
                complete(frame.streamID, with: .success(()))
                context.write(wrapOutboundOut(HTTP2Frame(streamID: frame.streamID, payload: .rstStream(.cancel))), promise: nil)
                needsFlush = true
            }
            if payload.endStream {
                complete(frame.streamID, with: .failure(CallFailure(.internalError, "server closed the stream without trailers")))
            }
        case .rstStream(let reason):
            complete(frame.streamID, with: .failure(CallFailure(.unavailable, "stream terminated by RST_STREAM with error code: \(reason)")))
        default:
            break
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        reading = false
        if needsFlush {
            needsFlush = false
            context.flush()
        }
        context.fireChannelReadComplete()
    }

    /// Stream-level errors (a frame for a stream already reset) concern one call, which its timeout or
    /// RST_STREAM completes; connection errors close the channel, which fails every call.
    func errorCaught(context: ChannelHandlerContext, error: Error) {}

    private func complete(_ stream: HTTP2StreamID, with result: Result<Void, CallFailure>) {
        if let open = streams.removeValue(forKey: stream) {
            switch result {
            case .success: open.observer.streamClosed(GRPCStatus(code: .ok, message: ""))
            case .failure(let failure): open.observer.streamClosed(failure.status)
            }
            return
        }
        guard let call = calls.removeValue(forKey: stream) else { return }
        call.deadline?.cancel()
        call.completion(result)
    }

    private func deliver(_ bytes: inout ByteBuffer, on stream: HTTP2StreamID) {
        guard var open = streams[stream] else { return }
        open.assembler.append(&bytes)
        var messages: [[UInt8]] = []
        do {
            while let message = try open.assembler.next(maxMessageBytes: Int(Int32.max)) { messages.append(message) }
        } catch {
            streams[stream] = nil
            context?.write(wrapOutboundOut(HTTP2Frame(streamID: stream, payload: .rstStream(.protocolError))), promise: nil)
            needsFlush = true
            open.observer.streamClosed(GRPCStatus(code: .internalError, message: "compressed response"))
            return
        }
        streams[stream] = open
        for message in messages { open.observer.received(message) }
    }

    private func expire(_ stream: HTTP2StreamID) {
        guard let call = calls.removeValue(forKey: stream), let context else { return }
        context.writeAndFlush(wrapOutboundOut(HTTP2Frame(streamID: stream, payload: .rstStream(.cancel))), promise: nil)
        call.completion(.failure(CallFailure(.deadlineExceeded, "context deadline exceeded")))
    }
}
