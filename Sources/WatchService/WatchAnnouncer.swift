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
            var refused = Set<String>()
            while !Task.isCancelled {
                for registry in self.registries {
                    let outcome: Result<Etcetera_Watch_WatchServiceReply, any Error>
                    do {
                        outcome = .success(try Etcetera_Watch_WatchServiceReply(
                            serializedBytes: try await registry.client.request(payload, timeout: .seconds(1))))
                    } catch {
                        outcome = .failure(error)
                    }
                    let accepted = if case .success(let reply) = outcome, case .ack = reply.reply { true } else { false }
                    if accepted {
                        refused.remove(registry.endpoint)
                        if acknowledged.insert(registry.endpoint).inserted {
                            self.logger.info("announced to gateway", metadata: [
                                "registry": "\(registry.endpoint)", "endpoint": "\(self.advertisedEndpoint)",
                            ])
                        }
                    } else {
                        acknowledged.remove(registry.endpoint)
                        // Once per spell: a gateway that is down, full, or does not admit this
                        // process's bus key (it never answers then) is worth one line, not one a second.
                        if refused.insert(registry.endpoint).inserted {
                            let reason = switch outcome {
                            case .success(let reply): "\(reply.error.code): \(reply.error.detail)"
                            case .failure(let error): "\(error)"
                            }
                            self.logger.warning("announcement not acknowledged; announcing again every second", metadata: [
                                "registry": "\(registry.endpoint)", "endpoint": "\(self.advertisedEndpoint)", "reason": "\(reason)",
                            ])
                        }
                    }
                }
                try? await Task.sleep(for: .seconds(1))
            }
        }
        registries.forEach { $0.client.close() }
    }
}
