import NIOCore
import NIOHTTP1
import ServiceSupport

/// The plain HTTP/1.1 side of the client port: etcd's `/health`, `/version` and `/metrics`, with etcd's
/// status codes, bodies and headers (its CORS headers included), so probes written for etcd work
/// unchanged. Requests under `/v3/` and `/v3beta/` go to etcd's JSON gateway (`JSONGatewayExchange`).
/// Before any of them, as etcd's access controller: a plaintext port refuses a host not in
/// `--host-whitelist` (421), and answers every OPTIONS request (a CORS preflight) itself.
/// On `--listen-metrics-urls` it serves `/health` and `/metrics` only, without CORS headers or host
/// checks, as etcd's metrics listener does.
final class HTTPEndpoints: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    /// Answers whether the member can serve; called once per `/health` request, from any thread.
    typealias HealthCheck = @Sendable (_ completion: @escaping @Sendable (Bool) -> Void) -> Void

    /// Produces the Prometheus exposition for `/metrics`; called once per request, from any thread.
    typealias MetricsScrape = @Sendable (_ completion: @escaping @Sendable (String) -> Void) -> Void

    enum Listener {
        case clientPort
        case metricsPort
    }

    struct Response: Sendable {
        var status: HTTPResponseStatus
        var contentType: String?
        var body: String
        var extraHeaders: [(String, String)] = []
    }

    private let listener: Listener
    private let access: HTTPAccessPolicy
    /// Whether the port serves TLS: etcd then answers every host.
    private let secure: Bool
    /// The CORS headers of the current request's answer.
    private var cors: [(String, String)] = []
    /// The answer decided as the request's head arrived (a refused host, a preflight), given once the
    /// request has been read.
    private var decided: Response?
    private let healthCheck: HealthCheck
    private let metrics: MetricsScrape
    private let jsonGateway: JSONGateway?
    private var request: HTTPRequestHead?
    /// The latest JSON gateway request; a stream it answers may outlive the request itself.
    private var exchange: JSONGatewayExchange?

    init(
        listener: Listener = .clientPort, access: HTTPAccessPolicy = HTTPAccessPolicy(), secure: Bool = false,
        healthCheck: @escaping HealthCheck, metrics: @escaping MetricsScrape, jsonGateway: JSONGateway? = nil
    ) {
        self.listener = listener
        self.access = access
        self.secure = secure
        self.healthCheck = healthCheck
        self.metrics = metrics
        self.jsonGateway = jsonGateway
    }

    func channelInactive(context: ChannelHandlerContext) {
        exchange?.connectionClosed()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            let (path, query) = Self.split(head.uri)
            decided = listener == .clientPort ? accessDecision(head) : nil
            cors = listener == .clientPort && decided?.status != .misdirectedRequest
                ? access.corsHeaders(origin: head.headers.first(name: "Origin")) : []
            if decided == nil, let jsonGateway, JSONGateway.serves(path) {
                exchange = JSONGatewayExchange(head, path: path, query: query, gateway: jsonGateway, cors: cors, context: context)
                request = nil
                return
            }
            exchange = nil
            request = head
        case .body(let bytes):
            if request == nil { exchange?.received(bytes) }
        case .end:
            guard let head = request else {
                exchange?.requestEnded()
                return
            }
            request = nil
            route(head, context: context)
        }
    }

    /// etcd's access controller: a refused host's 421, or an empty 200 for any OPTIONS request; nil
    /// to route the request.
    private func accessDecision(_ head: HTTPRequestHead) -> Response? {
        if !secure, let host = access.refusedHost(head.headers.first(name: "Host")) {
            return Response(status: .misdirectedRequest, contentType: "text/plain; charset=utf-8",
                            body: HTTPAccessPolicy.refusal(host: host), extraHeaders: [("X-Content-Type-Options", "nosniff")])
        }
        return head.method == .OPTIONS ? Response(status: .ok, contentType: nil, body: "") : nil
    }

    private func route(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        let path = Self.split(head.uri).path
        let keepAlive = head.isKeepAlive
        if let decided { return respond(decided, keepAlive: keepAlive, context: context) }
        switch path {
        case "/health":
            guard head.method == .GET else { return respond(Self.methodNotAllowed, keepAlive: keepAlive, context: context) }
            respondLater(keepAlive: keepAlive, context: context) { answer in
                self.healthCheck { healthy in
                    // etcd writes a healthy answer itself and an unhealthy one as an HTTP error.
                    answer(healthy
                        ? Response(status: .ok, contentType: "text/plain; charset=utf-8", body: "{\"health\":\"true\"}")
                        : Response(status: .serviceUnavailable, contentType: "text/plain; charset=utf-8", body: "{\"health\":\"false\"}\n",
                                   extraHeaders: [("X-Content-Type-Options", "nosniff")]))
                }
            }
        case "/metrics":
            // etcd answers /metrics for any method.
            respondLater(keepAlive: keepAlive, context: context) { answer in
                self.metrics { text in
                    answer(Response(status: .ok, contentType: "text/plain; version=0.0.4; charset=utf-8", body: text))
                }
            }
        case "/version" where listener == .clientPort:
            // etcd answers /version for any method.
            respond(Response(status: .ok, contentType: "application/json", body: Self.version), keepAlive: keepAlive, context: context)
        default:
            respond(
                Response(status: .notFound, contentType: "text/plain; charset=utf-8", body: "404 page not found\n",
                         extraHeaders: [("X-Content-Type-Options", "nosniff")]),
                keepAlive: keepAlive, context: context)
        }
    }

    /// Answers with what `produce` hands its callback, from any thread, back on the channel's loop.
    private func respondLater(
        keepAlive: Bool, context: ChannelHandlerContext, _ produce: (@escaping @Sendable (Response) -> Void) -> Void
    ) {
        let loop = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        produce { response in
            loop.eventLoop.execute {
                let (handler, context) = loop.value
                handler.respond(response, keepAlive: keepAlive, context: context)
            }
        }
    }

    private func respond(_ response: Response, keepAlive: Bool, context: ChannelHandlerContext) {
        var headers = HTTPHeaders(cors)
        headers.add(contentsOf: response.extraHeaders)
        if let contentType = response.contentType { headers.add(name: "Content-Type", value: contentType) }
        headers.add(name: "Content-Length", value: String(response.body.utf8.count))
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: response.status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: response.body)))), promise: nil)
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive { done.whenComplete { [context] _ in context.close(promise: nil) } }
    }

    private static func split(_ uri: String) -> (path: String, query: String?) {
        let parts = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        return (String(parts.first ?? ""), parts.count > 1 ? String(parts[1]) : nil)
    }

    private static let methodNotAllowed = Response(
        status: .methodNotAllowed, contentType: "text/plain; charset=utf-8", body: "Method Not Allowed\n",
        extraHeaders: [("Allow", "GET"), ("X-Content-Type-Options", "nosniff")])

    /// etcd 3.4's answer: the server release and the cluster version (major.minor.0).
    private static let version = "{\"etcdserver\":\"\(EtceteraVersion.etcdServer)\",\"etcdcluster\":\"\(EtceteraVersion.etcdCluster)\"}"
}
