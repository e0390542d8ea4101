import GRPCWire
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import NIOSSL

/// The gateway's client port: a NIO server whose HTTP/2 connections carry gRPC, served by
/// `GRPCConnectionHandler`, and whose HTTP/1.1 connections get `HTTPEndpoints` and etcd's JSON gateway
/// (`ProtocolSniffer` tells them apart). With TLS the handshake comes first and both protocols are
/// served inside it, as etcd serves both on an `https://` port.
final class ClientPortServer: Sendable {
    struct Configuration: Sendable {
        var host: String
        var port: Int
        /// Largest request message accepted at the transport level.
        var maxMessageBytes: Int
        /// TLS settings; nil serves plaintext.
        var tls: ClientTLS?
        /// etcd's `--max-concurrent-streams`: streams a client may have open on one connection.
        var maxConcurrentStreams: UInt32 = .max
        var keepalive = GRPCKeepalive()
        /// How long a new connection may take to show its protocol (TLS handshake included).
        var handshakeTimeout: TimeAmount = .seconds(10)
        /// etcd's `--cors` and `--host-whitelist` for the HTTP requests of the port.
        var access = HTTPAccessPolicy()
        /// How long a connection may stay open with no call or request in progress before it is
        /// closed (gRPC with GOAWAY first): a client that connects and then does nothing holds a
        /// descriptor and the connection's buffers for a bounded time only. etcd keeps such
        /// connections for ever; clients notice nothing, as gRPC clients reconnect at their next
        /// call and HTTP/1.1 clients at their next request.
        var idleTimeout: TimeAmount
    }

    private let configuration: Configuration
    private let methods: MethodTable
    private let healthCheck: HTTPEndpoints.HealthCheck
    private let scrape: HTTPEndpoints.MetricsScrape
    private let logger: Logger
    private let group: MultiThreadedEventLoopGroup

    init(
        configuration: Configuration, methods: MethodTable, healthCheck: @escaping HTTPEndpoints.HealthCheck,
        scrape: @escaping HTTPEndpoints.MetricsScrape,
        logger: Logger, group: MultiThreadedEventLoopGroup = .singleton
    ) {
        self.configuration = configuration
        self.methods = methods
        self.healthCheck = healthCheck
        self.scrape = scrape
        self.logger = logger
        self.group = group
    }

    /// Binds and serves until `channel.close()`; returns the bound channel.
    /// - Throws: NIOSSL's error if the certificate, key or CA file cannot be used.
    func bind() async throws -> Channel {
        let methods = self.methods
        let tlsContext = try configuration.tls?.makeContext()
        let certificateNamesCaller = configuration.tls?.clientCertificateAuth ?? false
        let logger = self.logger
        let healthCheck = self.healthCheck
        let scrape = self.scrape
        let maxMessageBytes = configuration.maxMessageBytes
        let jsonGateway = JSONGateway(methods: methods, maxMessageBytes: maxMessageBytes)
        let connectionConfiguration = HTTP2Tuning.connectionConfiguration(
            maxMessageBytes: maxMessageBytes,
            extraSettings: [HTTP2Setting(parameter: .maxConcurrentStreams, value: Int(configuration.maxConcurrentStreams))])
        let keepalive = configuration.keepalive
        let handshakeTimeout = configuration.handshakeTimeout
        let idleTimeout = configuration.idleTimeout
        let access = configuration.access
        let secure = tlsContext != nil
        let stream = HTTP2Tuning.streamConfiguration
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tlsContext {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tlsContext))
                        try channel.pipeline.syncOperations.addHandler(HandshakeRejectionLogger(logger: logger))
                    }
                    try channel.pipeline.syncOperations.addHandler(ProtocolSniffer(
                        handshakeTimeout: handshakeTimeout,
                        http2: { pipeline in
                            let keepaliveHandler = GRPCKeepaliveHandler(keepalive, maxConnectionIdle: idleTimeout)
                            try pipeline.addHandler(OutboundFrameObserver { keepaliveHandler.headersOrDataWritten() })
                            try pipeline.addHandler(
                                NIOHTTP2Handler(mode: .server, connectionConfiguration: connectionConfiguration, streamConfiguration: stream))
                            try pipeline.addHandler(keepaliveHandler)
                            try pipeline.addHandler(GRPCConnectionHandler(
                                methods: methods, maxMessageBytes: maxMessageBytes,
                                certificateUser: certificateNamesCaller ? pipeline.verifiedClientCommonName() : nil))
                        },
                        http1: { pipeline in
                            try pipeline.configureHTTPServerPipeline(withErrorHandling: true)
                            try pipeline.addHandler(HTTPIdleTimeout(idleTimeout))
                            try pipeline.addHandler(HTTPEndpoints(
                                access: access, secure: secure, healthCheck: healthCheck, metrics: scrape, jsonGateway: jsonGateway))
                        }))
                }
            }
        return try await bootstrap.bind(host: configuration.host, port: configuration.port).get()
    }
}
