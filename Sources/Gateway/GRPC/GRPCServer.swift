import GRPCWire
import NIOCore
import NIOHTTP2
import NIOPosix

/// The gateway's HTTP/2 listener for gRPC: a NIO server whose connections are served by
/// `GRPCConnectionHandler`.
final class HTTP2GRPCServer: Sendable {
    struct Configuration: Sendable {
        var host: String
        var port: Int
        /// Largest request message accepted at the transport level.
        var maxMessageBytes: Int
    }

    private let configuration: Configuration
    private let methods: MethodTable
    private let group: MultiThreadedEventLoopGroup

    init(configuration: Configuration, methods: MethodTable, group: MultiThreadedEventLoopGroup = .singleton) {
        self.configuration = configuration
        self.methods = methods
        self.group = group
    }

    /// Binds and serves until `channel.close()`; returns the bound channel.
    func bind() async throws -> Channel {
        let methods = self.methods
        let maxMessageBytes = configuration.maxMessageBytes
        let connectionConfiguration = HTTP2Tuning.connectionConfiguration(
            maxMessageBytes: maxMessageBytes,
            extraSettings: [HTTP2Setting(parameter: .maxConcurrentStreams, value: 10_000)])
        let stream = HTTP2Tuning.streamConfiguration
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        NIOHTTP2Handler(mode: .server, connectionConfiguration: connectionConfiguration, streamConfiguration: stream))
                    try channel.pipeline.syncOperations.addHandler(
                        GRPCConnectionHandler(methods: methods, maxMessageBytes: maxMessageBytes))
                }
            }
        return try await bootstrap.bind(host: configuration.host, port: configuration.port).get()
    }
}
