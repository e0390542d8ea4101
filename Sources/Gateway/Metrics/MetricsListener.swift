import NIOCore
import NIOHTTP1
import NIOPosix

/// etcd's `--listen-metrics-urls`: a plain HTTP/1.1 listener that serves `/metrics` and `/health` apart
/// from the client port, so monitoring can reach them where clients cannot.
final class MetricsListener: Sendable {
    private let host: String
    private let port: Int
    private let healthCheck: HTTPEndpoints.HealthCheck
    private let scrape: HTTPEndpoints.MetricsScrape
    private let group: MultiThreadedEventLoopGroup

    init(
        host: String, port: Int, healthCheck: @escaping HTTPEndpoints.HealthCheck,
        scrape: @escaping HTTPEndpoints.MetricsScrape, group: MultiThreadedEventLoopGroup = .singleton
    ) {
        self.host = host
        self.port = port
        self.healthCheck = healthCheck
        self.scrape = scrape
        self.group = group
    }

    /// Binds and serves until `channel.close()`; returns the bound channel.
    func bind() async throws -> Channel {
        let healthCheck = self.healthCheck
        let scrape = self.scrape
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(
                        HTTPEndpoints(listener: .metricsPort, healthCheck: healthCheck, metrics: scrape))
                }
            }
            .bind(host: host, port: port).get()
    }
}
