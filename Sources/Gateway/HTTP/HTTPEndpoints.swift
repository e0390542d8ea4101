import NIOCore
import NIOHTTP1
import ServiceSupport

/// The plain HTTP/1.1 side of the client port: etcd's `/health` and `/version`, with etcd's status
/// codes, bodies and headers (its CORS headers included), so probes written for etcd work unchanged.
final class HTTPEndpoints: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    /// Answers whether the member can serve; called once per `/health` request, from any thread.
    typealias HealthCheck = @Sendable (_ completion: @escaping @Sendable (Bool) -> Void) -> Void

    struct Response: Sendable {
        var status: HTTPResponseStatus
        var contentType: String
        var body: String
        var extraHeaders: [(String, String)] = []
    }

    private let healthCheck: HealthCheck
    private var request: HTTPRequestHead?

    init(healthCheck: @escaping HealthCheck) {
        self.healthCheck = healthCheck
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            request = head
        case .body:
            break
        case .end:
            guard let head = request else { return }
            request = nil
            route(head, context: context)
        }
    }

    private func route(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        let keepAlive = head.isKeepAlive
        switch path {
        case "/health":
            guard head.method == .GET else { return respond(Self.methodNotAllowed, keepAlive: keepAlive, context: context) }
            let loop = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            healthCheck { healthy in
                loop.eventLoop.execute {
                    let (handler, context) = loop.value
                    // etcd writes a healthy answer itself and an unhealthy one as an HTTP error.
                    let response = healthy
                        ? Response(status: .ok, contentType: "text/plain; charset=utf-8", body: "{\"health\":\"true\"}")
                        : Response(status: .serviceUnavailable, contentType: "text/plain; charset=utf-8", body: "{\"health\":\"false\"}\n",
                                   extraHeaders: [("X-Content-Type-Options", "nosniff")])
                    handler.respond(response, keepAlive: keepAlive, context: context)
                }
            }
        case "/version":
            // etcd answers /version for any method.
            respond(Response(status: .ok, contentType: "application/json", body: Self.version), keepAlive: keepAlive, context: context)
        default:
            respond(
                Response(status: .notFound, contentType: "text/plain; charset=utf-8", body: "404 page not found\n",
                         extraHeaders: [("X-Content-Type-Options", "nosniff")]),
                keepAlive: keepAlive, context: context)
        }
    }

    private func respond(_ response: Response, keepAlive: Bool, context: ChannelHandlerContext) {
        var headers = HTTPHeaders(Self.corsHeaders)
        headers.add(contentsOf: response.extraHeaders)
        headers.add(name: "Content-Type", value: response.contentType)
        headers.add(name: "Content-Length", value: String(response.body.utf8.count))
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: response.status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: response.body)))), promise: nil)
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive { done.whenComplete { [context] _ in context.close(promise: nil) } }
    }

    /// etcd's client handler sets these on every response.
    private static let corsHeaders = [
        ("Access-Control-Allow-Headers", "accept, content-type, authorization"),
        ("Access-Control-Allow-Methods", "POST, GET, OPTIONS, PUT, DELETE"),
        ("Access-Control-Allow-Origin", "*"),
    ]

    private static let methodNotAllowed = Response(
        status: .methodNotAllowed, contentType: "text/plain; charset=utf-8", body: "Method Not Allowed\n",
        extraHeaders: [("Allow", "GET"), ("X-Content-Type-Options", "nosniff")])

    /// etcd 3.4's answer: the server release and the cluster version (major.minor.0).
    private static let version = "{\"etcdserver\":\"\(EtceteraVersion.etcdServer)\",\"etcdcluster\":\"\(EtceteraVersion.etcdCluster)\"}"
}
