import EtceteraAPI
import Foundation
import GRPCWire
import NIOCore
import NIOHTTP2
import NIOPosix
import Synchronization

/// Runs a workload the way etcd's `benchmark` does: `connections` gRPC connections spread round-robin
/// over the endpoints, `clients` concurrent workers spread round-robin over the connections, each worker
/// taking the next request number until `total` have been sent.
///
/// Workers are callbacks on the connections' event loops rather than tasks: a worker sends its next
/// request from the completion of the previous one, so the client costs the servers as little CPU as
/// possible on a shared machine.
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
        /// etcd's `--user`: each connection authenticates once, untimed, and sends its token with every
        /// request, so the server's token and permission checks are part of what is measured.
        public var credentials: Credentials?
        /// Called when the clock starts, after connecting, authenticating and every set-up call, so a
        /// caller can sample what the timed part alone costs (the benchmark scripts read /proc then).
        public var timingStarted: (@Sendable () -> Void)?

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
        let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        var connections: [OpenConnection] = []
        do {
            for index in 0..<configuration.connections {
                let endpoint = configuration.endpoints[index % configuration.endpoints.count]
                connections.append(try await OpenConnection.open(to: endpoint, group: group, credentials: configuration.credentials))
            }
            let report = try await measure(workload, connections: connections)
            for connection in connections { try? await connection.channel.close() }
            try await group.shutdownGracefully()
            return report
        } catch {
            for connection in connections { try? await connection.channel.close() }
            try? await group.shutdownGracefully()
            throw error
        }
    }

    private func measure(_ workload: some Workload, connections: [OpenConnection]) async throws -> BenchmarkReport {
        let allocator = ByteBufferAllocator()
        let requests = try (0..<workload.total).map { index in
            try GRPCFraming.framed(workload.request(index).serializedBytes() as [UInt8], allocator: allocator)
        }
        for setUp in workload.setUpCalls {
            try await connections[0].call(path: setUp.path, request: setUp.request)
        }
        let plan = LoadPlan(
            path: workload.path, requests: requests, rate: configuration.rate,
            timeout: configuration.requestTimeout.map(TimeAmount.init), opensStreamPerRequest: workload.opensStreamPerRequest)
        configuration.timingStarted?()
        let clock = ContinuousClock()
        let start = clock.now
        let outcome = try await plan.run(on: connections, clients: configuration.clients)
        return BenchmarkReport(
            workload: workload.name, requested: workload.total,
            totalSeconds: start.duration(to: clock.now).inSeconds, recorder: outcome.recorder)
    }
}
