import Cluster
import EtceteraAPI
import Logging
import NIOCore
import ServiceLifecycle
import ServiceSupport

/// The client-facing server: etcd's gRPC API on the client URL, every call answered by forwarding to
/// the backend services over the bus.
public final class GatewayServer: Service, Sendable {
    private let configuration: GatewayConfiguration
    private let logger: Logger
    private let kv: ServiceBackend
    private let watch: WatchBackend
    private let watchRegistry: WatchRegistry?
    private let lease: ServiceBackend?
    private let maintenance: ServiceBackend?
    private let gate: AuthGate?
    private let server: ClientPortServer
    private let metricsListeners: [MetricsListener]

    public init(configuration: GatewayConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        let metrics = GatewayMetrics()
        func backend(_ service: String, at endpoint: String) throws -> ServiceBackend {
            try ServiceBackend(
                endpoint: endpoint, timeout: configuration.requestTimeout,
                maxRequestBytes: configuration.maxRequestBytes, logger: logger, roundTrips: metrics.roundTrips(to: service))
        }
        kv = try backend("kv", at: configuration.kvEndpoint)
        let identity = ClusterIdentity(name: configuration.name, peerURLs: configuration.peerURLs)
        let auth = try configuration.authEndpoint.map { try backend("auth", at: $0) }
        gate = try auth.map { try AuthGate(backend: $0, eventsEndpoint: configuration.authEventsEndpoint, logger: logger) }
        var methods = MethodTable()
        let storeRevision = StoreRevision()
        KVHandler(backend: kv, identity: identity, gate: gate, storeRevision: storeRevision).register(in: &methods)
        if let gate {
            AuthHandler(gate: gate, kv: kv, identity: identity).register(in: &methods)
        }
        watch = try WatchBackend(
            endpoints: configuration.watchEndpoints, maxResponseBytes: configuration.maxRequestBytes,
            timeout: configuration.requestTimeout, logger: logger, roundTrips: metrics.roundTrips(to: "watch"))
        watchRegistry = try configuration.watchRegistryEndpoint.map { [watch] in
            try WatchRegistry(bind: $0, backend: watch, logger: logger)
        }
        if !configuration.watchEndpoints.isEmpty || watchRegistry != nil {
            WatchHandler(backend: watch, kv: kv, identity: identity, gate: gate, storeRevision: storeRevision).register(in: &methods)
        }
        lease = try configuration.leaseEndpoint.map { try backend("lease", at: $0) }
        if let lease {
            LeaseHandler(backend: lease, kv: kv, identity: identity, gate: gate, storeRevision: storeRevision).register(in: &methods)
        }
        maintenance = try configuration.maintenanceEndpoint.map { try backend("maintenance", at: $0) }
        if let maintenance {
            MaintenanceHandler(backend: maintenance, gate: gate).register(in: &methods)
            ClusterHandler(backend: maintenance, gate: gate).register(in: &methods)
        }
        let health = HealthProbe(kv: kv, lease: lease, maintenance: maintenance)
        let healthCheck: HTTPEndpoints.HealthCheck = { health.check(completion: $0) }
        let sources = GatewayMetrics.Sources(
            kv: kv, lease: lease,
            services: [("lease", lease), ("maintenance", maintenance), ("auth", auth)].compactMap { name, backend in
                backend.map { (name, $0) }
            },
            watch: watch)
        let scrape: HTTPEndpoints.MetricsScrape = { completion in
            Task { completion(await metrics.scrape(sources)) }
        }
        // etcd accepts messages up to the request limit plus 512 KiB at the transport; between the two a
        // write gets etcd's "request is too large" instead of a transport error.
        server = ClientPortServer(
            configuration: .init(
                host: configuration.host, port: configuration.port,
                maxMessageBytes: configuration.maxRequestBytes + 512 * 1024, tls: configuration.tls,
                maxConcurrentStreams: configuration.maxConcurrentStreams, keepalive: configuration.keepalive,
                access: HTTPAccessPolicy(allowedOrigins: configuration.corsOrigins, allowedHosts: configuration.hostWhitelist),
                idleTimeout: TimeAmount(clamping: configuration.clientIdleTimeout)),
            methods: GRPCServerMetrics.instrument(methods, registry: metrics.registry),
            healthCheck: healthCheck, scrape: scrape, logger: logger)
        metricsListeners = configuration.metricsAddresses.map {
            MetricsListener(host: $0.host, port: $0.port, healthCheck: healthCheck, scrape: scrape)
        }
    }

    public func run() async throws {
        guard try await untilGracefulShutdown({ try await self.waitForServices() }) != nil else {
            watchRegistry?.close()
            return closeBackends()
        }
        let channel = try await server.bind()
        logger.info("gateway serving etcd gRPC API", metadata: [
            "address": "\(channel.localAddress.map { "\($0)" } ?? "?")", "kv": "\(configuration.kvEndpoint)",
            "tls": "\(configuration.tls == nil ? "off" : "on")",
        ])
        var metricsChannels: [Channel] = []
        for listener in metricsListeners {
            let bound = try await listener.bind()
            metricsChannels.append(bound)
            logger.info("serving /metrics and /health", metadata: ["address": "\(bound.localAddress.map { "\($0)" } ?? "?")"])
        }
        let keepAlive = Task { await watch.runKeepAlive() }
        let registry = Task { [watchRegistry] in try await watchRegistry?.run() }
        try await withGracefulShutdownHandler {
            try await channel.closeFuture.get()
        } onGracefulShutdown: {
            channel.close(promise: nil)
        }
        for bound in metricsChannels { try? await bound.close() }
        keepAlive.cancel()
        watchRegistry?.close()
        registry.cancel()
        closeBackends()
    }

    private func closeBackends() {
        watch.close()
        kv.close()
        lease?.close()
        maintenance?.close()
        gate?.close()
    }

    /// Holds the client port closed until the kv service (and the auth, lease and maintenance services,
    /// if there are any) answers, so that a client port that accepts connections (what the launcher's readiness check
    /// and scripts watch for) means requests work.
    private func waitForServices() async throws {
        var status = Etcetera_Kv_KVRequest()
        status.status = Etcetera_Kv_StoreStatusRequest()
        try await waitUntilAnswering("kv", at: configuration.kvEndpoint) { _ = try await self.kv.call(status) }
        if let lease, let endpoint = configuration.leaseEndpoint {
            try await waitUntilAnswering("lease", at: endpoint) { try await LeaseHandler.probe(lease) }
        }
        if let gate, let endpoint = configuration.authEndpoint {
            try await waitUntilAnswering("auth", at: endpoint) { try await gate.probe() }
        }
        if let maintenance, let endpoint = configuration.maintenanceEndpoint {
            let status = MaintenanceHandler.statusCall
            try await waitUntilAnswering("maintenance", at: endpoint) {
                try await maintenance.probe(requestField: status.requestField, replyField: status.replyField)
            }
        }
    }

    private func waitUntilAnswering(_ service: String, at endpoint: String, probe: () async throws -> Void) async throws {
        var attempts = 0
        while true {
            do {
                try await probe()
                return
            } catch {
                attempts += 1
                if attempts % 40 == 0 {
                    logger.warning("waiting for the \(service) service", metadata: ["endpoint": "\(endpoint)"])
                }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
    }
}
