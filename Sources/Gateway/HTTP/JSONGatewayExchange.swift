import GRPCWire
import NIOCore
import NIOHTTP1

/// One HTTP/1.1 request to the JSON gateway, answered as etcd's grpc-gateway answers it. Used on the
/// connection's event loop only; answers from handlers hop back to it.
///
/// - A unary call reads the body's first JSON value, calls the gRPC method's handler and writes its
///   answer: `200` with the JSON message, or grpc-gateway's error body
///   `{"error":…,"message":…,"code":N}` with the HTTP status of the gRPC code.
/// - A streaming call (Watch, LeaseKeepAlive, Snapshot) opens the method's `StreamingCall` at once,
///   passes it each JSON value of the body as it arrives, and writes each answer as a line
///   `{"result":{…}}` of a chunked response that stays open until the call ends or the client goes.
///   When the call pauses (``StreamDemand``), the exchange stops passing messages and stops reading
///   the connection until the call resumes, so a client that sends and never reads is held by its
///   own socket; bytes of messages already passed are dropped.
final class JSONGatewayExchange {
    private enum Plan {
        case simple(HTTPResponseStatus, contentType: String?, body: String, extraHeaders: [(String, String)])
        case unary(JSONGateway.Route)
        case stream(JSONGateway.Route, StreamingCall)
        /// A streaming method the method table does not serve.
        case unservedStream(JSONGateway.Route)
        /// Answered, or answering: the rest of the request is ignored.
        case done
    }

    private enum Next {
        case message([UInt8])
        case endOfBody
        case needsMore
        case malformed(String)
    }

    private let gateway: JSONGateway
    private let context: ChannelHandlerContext
    private let keepAlive: Bool
    private let callContext: CallContext
    private var plan: Plan
    /// The body received and not yet dropped.
    private var body: [UInt8] = []
    private var scanner = GoJSONScanner()
    /// Where the last value read ends in `body`; the bytes before it are dropped in batches.
    private var readOffset = 0
    /// The whole body has arrived.
    private var bodyComplete = false
    /// The streaming call answered `.paused`; the connection is not read until it resumes.
    private var paused = false
    /// Whether the client's messages may still come (a stream stops reading at the first bad one).
    private var clientSending = true
    private var messagesPassed = 0
    private var headersSent = false
    private var responseEnded = false
    private let cors: [(String, String)]

    /// - Parameter cors: the CORS headers every answer to this request carries (``HTTPAccessPolicy``).
    init(_ head: HTTPRequestHead, path: String, query: String?, gateway: JSONGateway, cors: [(String, String)], context: ChannelHandlerContext) {
        self.gateway = gateway
        self.cors = cors
        self.context = context
        keepAlive = head.isKeepAlive
        callContext = CallContext(metadata: Self.metadata(head.headers))
        plan = .simple(.notFound, contentType: nil, body: "", extraHeaders: [])
        plan = makePlan(head, path: path, query: query)
    }

    func received(_ bytes: ByteBuffer) {
        switch plan {
        case .simple, .unservedStream, .done: return
        case .unary, .stream: body += bytes.readableBytesView
        }
        if body.count - readOffset > Self.bufferLimit(gateway) {
            return failTooLarge()
        }
        if case .stream(let route, let call) = plan, !paused { passMessages(route, to: call) }
    }

    func requestEnded() {
        switch plan {
        case .simple(let status, let contentType, let text, let extraHeaders):
            var headers = extraHeaders
            if let contentType { headers.append(("Content-Type", contentType)) }
            writeComplete(status, headers: headers, body: text)
        case .unary(let route):
            callUnary(route)
        case .stream(let route, let call):
            bodyComplete = true
            if !paused { passMessages(route, to: call) }
        case .unservedStream(let route):
            // The method table's status for it, as for a unary call.
            if case .failure(let status) = gateway.methods.handler(for: route.method) { writeCallError(status) }
        case .done:
            break
        }
    }

    // MARK: Planning

    private func makePlan(_ head: HTTPRequestHead, path: String, query: String?) -> Plan {
        switch gateway.lookup(head.method, path: path, query: query) {
        case .redirect(let location):
            // Go's http.Redirect writes a short HTML body for GET and HEAD only.
            let html = head.method == .GET || head.method == .HEAD
            return .simple(
                .movedPermanently, contentType: html ? "text/html; charset=utf-8" : nil,
                body: html ? "<a href=\"\(location)\">Moved Permanently</a>.\n\n" : "", extraHeaders: [("Location", location)])
        case .methodNotAllowed:
            return .simple(.methodNotAllowed, contentType: "text/plain; charset=utf-8", body: "Method Not Allowed\n",
                           extraHeaders: [("X-Content-Type-Options", "nosniff")])
        case .notFound:
            return .simple(.notFound, contentType: "text/plain; charset=utf-8", body: "Not Found\n",
                           extraHeaders: [("X-Content-Type-Options", "nosniff")])
        case .route(let route) where !route.streaming:
            return .unary(route)
        case .route(let route):
            guard let open = gateway.methods.streamingMethod(for: route.method) else { return .unservedStream(route) }
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            let loop = context.eventLoop
            let writer = StreamWriter(
                deliver: { messages, written in loop.execute { bound.value.streamDelivered(messages, written: written) } },
                finish: { status in loop.execute { bound.value.streamFinished(status) } },
                resume: { loop.execute { bound.value.streamResumed() } })
            return .stream(route, open(callContext, writer))
        }
    }

    /// The call's metadata as grpc-gateway builds it: `Grpc-Metadata-*` headers without the prefix,
    /// and `Authorization` as it is. etcd takes the token from `token`, else from `authorization`.
    private static func metadata(_ headers: HTTPHeaders) -> [String: String] {
        var metadata: [String: String] = [:]
        let prefix = "grpc-metadata-"
        for (name, value) in headers {
            let lowered = name.lowercased()
            if lowered.hasPrefix(prefix) {
                metadata[String(lowered.dropFirst(prefix.count))] = value
            } else if lowered == "authorization" {
                metadata[lowered] = value
            }
        }
        if metadata["token"] == nil, let authorization = metadata["authorization"] {
            metadata["token"] = authorization
        }
        return metadata
    }

    // MARK: Reading the body

    /// The next JSON value of the body as the route's request message.
    private func nextMessage(_ route: JSONGateway.Route, bodyComplete: Bool) -> Next {
        switch scanner.next(in: body, bodyComplete: bodyComplete) {
        case .needsMore:
            return .needsMore
        case .endOfBody:
            return .endOfBody
        case .malformed(let message):
            return .malformed(message)
        case .value(let range, let kind):
            readOffset = range.upperBound
            switch kind {
            case .null:
                return .message([])
            case .object:
                guard let codec = route.codec else { return .message([]) }
                do {
                    return .message(try codec.decodeRequest(Array(body[range])))
                } catch {
                    return .malformed(error.message)
                }
            default:
                return .malformed("json: cannot unmarshal \(kind.goName) into Go value of type map[string]json.RawMessage")
            }
        }
    }

    /// A buffer of JSON not yet read may hold base64 (4/3 of the bytes) and some syntax around it.
    private static func bufferLimit(_ gateway: JSONGateway) -> Int {
        2 * gateway.maxMessageBytes + 64 * 1024
    }

    private func failTooLarge() {
        let status = GRPCStatus(code: .resourceExhausted, message: "grpc: received message larger than max")
        body = []
        readOffset = 0
        scanner = GoJSONScanner()
        if case .stream(_, let call) = plan { call.cancelled() }
        plan = .done
        clientSending = false
        writeCallError(status)
    }

    // MARK: Unary calls

    private func callUnary(_ route: JSONGateway.Route) {
        let request: [UInt8]
        switch nextMessage(route, bodyComplete: true) {
        case .message(let message): request = message
        case .endOfBody, .needsMore: request = []
        case .malformed(let message):
            return writeError(GRPCStatus(code: .invalidArgument, message: message), afterCall: false)
        }
        guard request.count <= gateway.maxMessageBytes else {
            return writeCallError(GRPCStatus(
                code: .resourceExhausted,
                message: "grpc: received message larger than max (\(request.count) vs. \(gateway.maxMessageBytes))"))
        }
        let handler: MethodTable.Handler
        switch gateway.methods.handler(for: route.method) {
        case .success(let found): handler = found
        case .failure(let status): return writeCallError(status)
        }
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let loop = context.eventLoop
        handler(request, callContext) { result in
            loop.execute { bound.value.unaryAnswered(result, codec: route.codec) }
        }
    }

    private func unaryAnswered(_ result: Result<[UInt8], GRPCStatus>, codec: JSONMessageCodec?) {
        switch result {
        case .success(let message):
            guard let json = codec?.encodeResponse(message) else {
                return writeCallError(GRPCStatus(code: .internalError, message: "etcetera: undecodable response"))
            }
            writeComplete(.ok, headers: [("Content-Type", "application/json"), Self.grpcContentType], body: json)
        case .failure(let status):
            writeCallError(status)
        }
    }

    // MARK: Streaming calls

    private func passMessages(_ route: JSONGateway.Route, to call: StreamingCall) {
        defer { dropReadBytes() }
        while clientSending, !paused {
            switch nextMessage(route, bodyComplete: bodyComplete) {
            case .needsMore:
                return
            case .endOfBody:
                clientSending = false
                call.clientFinished()
            case .message(let message):
                messagesPassed += 1
                if call.received(message) == .paused {
                    paused = true
                    setReading(false)
                }
            case .malformed(let message):
                clientSending = false
                guard messagesPassed == 0, !headersSent else {
                    // grpc-gateway stops reading at a bad later message and half-closes the stream.
                    call.clientFinished()
                    return
                }
                // A bad first message fails the request (Unknown: it is not a gRPC status).
                call.cancelled()
                plan = .done
                return writeError(GRPCStatus(code: .unknown, message: message), afterCall: false)
            }
        }
    }

    /// Drops the bytes of values already read once they are at least half the buffer, so the
    /// buffer holds about one value and dropping costs no more than reading did.
    private func dropReadBytes() {
        guard readOffset > 0, readOffset >= body.count / 2 else { return }
        body.removeFirst(readOffset)
        scanner.dropped(readOffset)
        readOffset = 0
    }

    /// The call takes messages again: pass those that wait and read the connection again.
    private func streamResumed() {
        guard paused else { return }
        paused = false
        setReading(true)
        if case .stream(let route, let call) = plan { passMessages(route, to: call) }
    }

    private func setReading(_ reading: Bool) {
        try? context.channel.syncOptions?.setOption(.autoRead, value: reading)
    }

    /// Writes each message as one line of JSON, all in one chunk.
    private func streamDelivered(_ messages: [[UInt8]], written: (@Sendable () -> Void)?) {
        guard !responseEnded, case .stream(let route, _) = plan, let codec = route.codec else { return }
        var lines = ""
        for message in messages {
            if let json = codec.encodeResponse(message) { lines += "{\"result\":" + json + "}\n" }
        }
        guard !lines.isEmpty else { return }
        if !headersSent {
            writeHead(.ok, headers: [("Content-Type", "application/json"), Self.grpcContentType, ("Transfer-Encoding", "chunked")])
        }
        let promise = written.map { callback in
            let promise = context.eventLoop.makePromise(of: Void.self)
            promise.futureResult.whenSuccess { callback() }
            return promise
        }
        context.writeAndFlush(
            NIOAny(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: lines)))), promise: promise)
    }

    private func streamFinished(_ status: GRPCStatus) {
        guard !responseEnded else { return }
        plan = .done
        if status.code == .ok {
            if !headersSent { writeHead(.ok, headers: [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")]) }
            return end(trailers: nil)
        }
        let httpStatus = JSONGateway.httpStatus(for: status.code)
        if !headersSent {
            writeHead(httpStatus, headers: [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")])
        }
        var fields = [(String, String)]()
        fields.append(("grpc_code", String(status.code.rawValue)))
        fields.append(("http_code", String(httpStatus.code)))
        if !status.message.isEmpty { fields.append(("message", GoJSONText.quoted(status.message))) }
        fields.append(("http_status", GoJSONText.quoted(httpStatus.reasonPhrase)))
        let error = "{\"error\":" + Self.object(fields) + "}"
        context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: error)))), promise: nil)
        end(trailers: nil)
    }

    /// The connection closed: a stream still open ends as a gRPC client's reset would end it.
    func connectionClosed() {
        guard case .stream(_, let call) = plan else { return }
        plan = .done
        responseEnded = true
        call.cancelled()
    }

    // MARK: Writing

    /// gRPC's response header, which grpc-gateway passes on as server metadata.
    private static let grpcContentType = ("Grpc-Metadata-Content-Type", "application/grpc")

    /// grpc-gateway's error body. After a call, gRPC's trailers-only answer carries the content type
    /// in its trailers, which grpc-gateway passes on as an HTTP trailer.
    private func writeError(_ status: GRPCStatus, afterCall: Bool) {
        var fields = [(String, String)]()
        if !status.message.isEmpty {
            fields.append(("error", GoJSONText.quoted(status.message)))
            fields.append(("message", GoJSONText.quoted(status.message)))
        }
        if status.code != .ok { fields.append(("code", String(status.code.rawValue))) }
        let httpStatus = JSONGateway.httpStatus(for: status.code)
        guard afterCall else {
            return writeComplete(httpStatus, headers: [("Content-Type", "application/json")], body: Self.object(fields))
        }
        writeHead(httpStatus, headers: [
            ("Content-Type", "application/json"), ("Trailer", "Grpc-Trailer-Content-Type"), ("Transfer-Encoding", "chunked"),
        ])
        context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: Self.object(fields))))), promise: nil)
        end(trailers: HTTPHeaders([("Grpc-Trailer-Content-Type", "application/grpc")]))
    }

    private func writeCallError(_ status: GRPCStatus) {
        writeError(status, afterCall: true)
    }

    private static func object(_ fields: [(String, String)]) -> String {
        "{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
    }

    private func writeComplete(_ status: HTTPResponseStatus, headers: [(String, String)], body text: String) {
        writeHead(status, headers: headers + [("Content-Length", String(text.utf8.count))])
        if !text.isEmpty {
            context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: text)))), promise: nil)
        }
        end(trailers: nil)
    }

    private func writeHead(_ status: HTTPResponseStatus, headers: [(String, String)]) {
        guard !headersSent, !responseEnded else { return }
        headersSent = true
        var all = HTTPHeaders(cors)
        all.add(contentsOf: headers)
        if !keepAlive { all.add(name: "Connection", value: "close") }
        context.write(NIOAny(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: status, headers: all))), promise: nil)
    }

    private func end(trailers: HTTPHeaders?) {
        guard !responseEnded else { return }
        responseEnded = true
        if paused {
            paused = false
            setReading(true)
        }
        let done = context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(trailers)))
        if !keepAlive {
            done.whenComplete { [channel = context.channel] _ in channel.close(promise: nil) }
        }
    }
}
