import EtceteraAPI
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import ServiceLifecycle

/// The client-facing server: etcd's gRPC API on the client URL, every call answered by forwarding to
/// the backend services over the bus.
public final class GatewayServer: Service, Sendable {
    private let configuration: GatewayConfiguration
    private let logger: Logger
    private let kv: KVBackend
    private let server: GRPCServer<HTTP2ServerTransport.Posix>

    public init(configuration: GatewayConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        kv = try KVBackend(
            endpoint: configuration.kvEndpoint, timeout: configuration.requestTimeout,
            maxRequestBytes: configuration.maxRequestBytes, logger: logger)
        let identity = ClusterIdentity(configuration: configuration)
        var transportConfig = HTTP2ServerTransport.Posix.Config.defaults
        // etcd clients ping every few seconds; accept that as etcd's --grpc-keepalive-min-time does.
        transportConfig.connection.keepalive.clientBehavior.minPingIntervalWithoutCalls = .seconds(5)
        transportConfig.connection.keepalive.clientBehavior.allowWithoutCalls = true
        // etcd's gRPC limit is the request limit plus 512 KiB of headroom; between the two a write
        // gets etcd's "request is too large" instead of a transport error.
        transportConfig.rpc.maxRequestPayloadSize = configuration.maxRequestBytes + 512 * 1024
        server = GRPCServer(
            transport: .http2NIOPosix(
                address: .ipv4(host: configuration.host, port: configuration.port),
                transportSecurity: .plaintext, config: transportConfig),
            services: [
                KVHandler(backend: kv, identity: identity),
                MaintenanceHandler(backend: kv, identity: identity),
                ClusterHandler(identity: identity, configuration: configuration),
            ])
    }

    public func run() async throws {
        try await waitForKVService()
        try await withGracefulShutdownHandler {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await self.server.serve() }
                if let address = try await server.listeningAddress?.ipv4 {
                    logger.info("gateway serving etcd gRPC API", metadata: [
                        "address": "\(address.host):\(address.port)", "kv": "\(configuration.kvEndpoint)",
                    ])
                }
                try await group.next()
            }
        } onGracefulShutdown: {
            self.server.beginGracefulShutdown()
        }
        kv.close()
    }

    /// Holds the client port closed until the kv service answers, so that a client port that accepts
    /// connections (what the launcher's readiness check and scripts watch for) means requests work.
    private func waitForKVService() async throws {
        var request = Etcetera_Kv_KVRequest()
        request.status = Etcetera_Kv_StoreStatusRequest()
        var attempts = 0
        while true {
            do {
                _ = try await kv.call(request, limitSize: false)
                return
            } catch {
                attempts += 1
                if attempts % 40 == 0 {
                    logger.warning("waiting for the kv service", metadata: ["kv": "\(configuration.kvEndpoint)"])
                }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
    }
}
