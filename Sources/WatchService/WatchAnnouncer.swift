import Bus
import EtceteraAPI
import Logging
import ServiceLifecycle

/// Tells gateways' watch registries (`etcetera-gateway --watch-registry`) where this watch process
/// serves, once a second for as long as it runs: a gateway started or restarted later learns it
/// within a second, and no gateway has to be given the address of each watch process.
public final class WatchAnnouncer: Service, Sendable {
    private let advertisedEndpoint: String
    private let registries: [(endpoint: String, client: BusClient)]
    private let logger: Logger

    /// - Parameters:
    ///   - advertisedEndpoint: this process's request/reply endpoint as gateways reach it.
    ///   - registryEndpoints: the gateways' watch registry endpoints.
    public init(advertisedEndpoint: String, registryEndpoints: [String], logger: Logger) throws {
        self.advertisedEndpoint = advertisedEndpoint
        registries = try registryEndpoints.map { ($0, try BusClient(connect: $0, logger: logger)) }
        self.logger = logger
    }

    public func run() async throws {
        var announcement = Etcetera_Watch_WatchProcessAnnouncement()
        announcement.endpoint = advertisedEndpoint
        let payload = try announcement.serializedBytes() as [UInt8]
        await cancelWhenGracefulShutdown {
            var acknowledged = Set<String>()
            while !Task.isCancelled {
                for registry in self.registries {
                    let reply = (try? await registry.client.request(payload, timeout: .seconds(1)))
                        .flatMap { try? Etcetera_Watch_WatchServiceReply(serializedBytes: $0) }
                    let accepted = if case .ack = reply?.reply { true } else { false }
                    if accepted, acknowledged.insert(registry.endpoint).inserted {
                        self.logger.info("announced to gateway", metadata: [
                            "registry": "\(registry.endpoint)", "endpoint": "\(self.advertisedEndpoint)",
                        ])
                    } else if !accepted {
                        acknowledged.remove(registry.endpoint)
                    }
                }
                try? await Task.sleep(for: .seconds(1))
            }
        }
        registries.forEach { $0.client.close() }
    }
}
