import Foundation
import EtceteraAPI
import GRPCCore
import GRPCNIOTransportHTTP2
import NIOCore
import Synchronization

/// Runs a workload the way etcd's `benchmark` does: `connections` gRPC connections spread round-robin
/// over the endpoints, `clients` concurrent workers spread round-robin over the connections, each worker
/// taking the next request number until `total` have been sent.
public struct BenchmarkRunner: Sendable {
    public struct Configuration: Sendable {
        public var endpoints: [Endpoint] = [Endpoint(host: "127.0.0.1", port: 2379)]
        /// Number of gRPC (HTTP/2) connections (etcd's `--conns`).
        public var connections = 1
        /// Number of concurrent workers (etcd's `--clients`).
        public var clients = 1
        /// Maximum requests per second over all workers; 0 is no limit (etcd's `--rate`).
        public var rate = 0
        /// Deadline for each request; `nil` waits as long as the server takes (etcd's behaviour).
        public var requestTimeout: Duration?

        public init() {}
    }

    public let configuration: Configuration

    public init(_ configuration: Configuration) throws {
        guard !configuration.endpoints.isEmpty else {
            throw BenchmarkError(code: .invalidConfiguration, message: "no endpoints")
        }
        guard configuration.connections > 0, configuration.clients > 0 else {
            throw BenchmarkError(code: .invalidConfiguration, message: "--conns and --clients must be positive")
        }
        guard configuration.rate >= 0 else {
            throw BenchmarkError(code: .invalidConfiguration, message: "--rate must not be negative")
        }
        self.configuration = configuration
    }

    /// Connects, checks every connection with one serializable Range (untimed), then times the workload.
    public func run(_ workload: some Workload) async throws -> BenchmarkReport {
        let grpcClients = try (0..<configuration.connections).map { index in
            let endpoint = configuration.endpoints[index % configuration.endpoints.count]
            return GRPCClient(
                transport: try .http2NIOPosix(
                    target: endpoint.target, transportSecurity: .plaintext, config: Self.transportConfiguration))
        }
        return try await withThrowingDiscardingTaskGroup { group in
            for client in grpcClients {
                group.addTask { try await client.runConnections() }
            }
            defer {
                for client in grpcClients { client.beginGracefulShutdown() }
            }
            let kvClients = grpcClients.map { KVClient(wrapping: $0) }
            try await warmUp(kvClients)
            return await measure(workload, kvClients: kvClients)
        }
    }

    /// Default HTTP/2 settings, with the server's PINGs answered by ``ServerPingResponder``.
    private static var transportConfiguration: HTTP2ClientTransport.Posix.Config {
        var config = HTTP2ClientTransport.Posix.Config.defaults
        config.channelDebuggingCallbacks.onCreateTCPConnection = { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(ServerPingResponder(), position: .first)
            }
        }
        return config
    }

    private func warmUp(_ kvClients: [KVClient]) async throws {
        var probe = Etcdserverpb_RangeRequest()
        probe.key = Data([0])
        probe.serializable = true
        probe.limit = 1
        var options = CallOptions.defaults
        options.timeout = .seconds(10)
        options.waitForReady = true
        for (index, client) in kvClients.enumerated() {
            let endpoint = configuration.endpoints[index % configuration.endpoints.count]
            do {
                try await client.range(probe, options: options) { response in _ = try response.message }
            } catch {
                throw BenchmarkError(code: .endpointUnreachable, message: "\(endpoint): \(error)")
            }
        }
    }

    private func measure(_ workload: some Workload, kvClients: [KVClient]) async -> BenchmarkReport {
        let tickets = RequestTickets()
        let total = workload.total
        let workers = configuration.clients
        let rate = configuration.rate
        var options = CallOptions.defaults
        options.timeout = configuration.requestTimeout
        let callOptions = options
        let clock = ContinuousClock()
        let start = clock.now

        let recorder = await withTaskGroup(of: LatencyRecorder.self) { group in
            for worker in 0..<workers {
                let client = kvClients[worker % kvClients.count]
                group.addTask {
                    var recorder = LatencyRecorder(expectedCount: total / workers + 1)
                    while true {
                        let index = tickets.take()
                        if index >= total { break }
                        if rate > 0 {
                            let due = start.advanced(by: .nanoseconds(Int64(Double(index) * 1e9 / Double(rate))))
                            try? await Task.sleep(until: due, clock: clock)
                        }
                        let sent = clock.now
                        do {
                            try await workload.perform(index, on: client, options: callOptions)
                            recorder.record(sent.duration(to: clock.now))
                        } catch {
                            recorder.recordFailure(error)
                        }
                    }
                    return recorder
                }
            }
            var merged = LatencyRecorder(expectedCount: total)
            for await recorder in group { merged.merge(recorder) }
            return merged
        }

        let elapsed = start.duration(to: clock.now)
        let (seconds, attoseconds) = elapsed.components
        return BenchmarkReport(
            workload: workload.name, requested: total,
            totalSeconds: Double(seconds) + Double(attoseconds) * 1e-18, recorder: recorder)
    }
}

/// Hands out request numbers to workers without a lock.
private final class RequestTickets: Sendable {
    private let next = Atomic<Int>(0)

    func take() -> Int {
        next.wrappingAdd(1, ordering: .relaxed).oldValue
    }
}
