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
        var connections: [Connection] = []
        do {
            for index in 0..<configuration.connections {
                let endpoint = configuration.endpoints[index % configuration.endpoints.count]
                connections.append(try await Connection.open(to: endpoint, group: group))
            }
            try await warmUp(connections)
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

    private func warmUp(_ connections: [Connection]) async throws {
        var probe = Etcdserverpb_RangeRequest()
        probe.key = Data([0])
        probe.serializable = true
        probe.limit = 1
        let framed = try GRPCFraming.framed(probe.serializedBytes() as [UInt8], allocator: ByteBufferAllocator())
        for connection in connections {
            let promise = connection.eventLoop.makePromise(of: Void.self)
            connection.eventLoop.execute {
                connection.handler.value.call(path: "/etcdserverpb.KV/Range", framedRequest: framed, timeout: .seconds(10)) {
                    promise.completeWith($0.mapError { $0 as any Error })
                }
            }
            do {
                try await promise.futureResult.get()
            } catch {
                throw BenchmarkError(code: .endpointUnreachable, message: "\(connection.endpoint): \(error)")
            }
        }
    }

    private func measure(_ workload: some Workload, connections: [Connection]) async throws -> BenchmarkReport {
        let allocator = ByteBufferAllocator()
        let requests = try (0..<workload.total).map { index in
            try GRPCFraming.framed(workload.request(index).serializedBytes() as [UInt8], allocator: allocator)
        }
        let plan = LoadPlan(
            path: workload.path, requests: requests, rate: configuration.rate,
            timeout: configuration.requestTimeout.map(TimeAmount.init),
            start: .now())
        let clock = ContinuousClock()
        let start = clock.now
        let futures = connections.enumerated().map { index, connection in
            // Worker i uses connection i mod --conns.
            let workers = (0..<configuration.clients).filter { $0 % connections.count == index }.count
            return connection.eventLoop.flatSubmit {
                ConnectionLoad(plan: plan, connection: connection.handler.value, eventLoop: connection.eventLoop)
                    .run(workers: workers)
            }
        }
        var recorder = LatencyRecorder(expectedCount: workload.total)
        for future in futures {
            recorder.merge(try await future.get())
        }
        let elapsed = start.duration(to: clock.now)
        let (seconds, attoseconds) = elapsed.components
        return BenchmarkReport(
            workload: workload.name, requested: workload.total,
            totalSeconds: Double(seconds) + Double(attoseconds) * 1e-18, recorder: recorder)
    }
}

/// One open connection and its call handler.
private struct Connection: Sendable {
    let endpoint: Endpoint
    let channel: any Channel
    let handler: NIOLoopBound<UnaryCallConnection>
    var eventLoop: any EventLoop { channel.eventLoop }

    static func open(to endpoint: Endpoint, group: MultiThreadedEventLoopGroup) async throws -> Connection {
        let authority = endpoint.description
        let bootstrap = ClientBootstrap(group: group)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOHTTP2Handler(
                        mode: .client,
                        connectionConfiguration: HTTP2Tuning.connectionConfiguration(maxMessageBytes: Int(Int32.max)),
                        streamConfiguration: .init()))
                    try channel.pipeline.syncOperations.addHandler(
                        UnaryCallConnection(authority: authority, eventLoop: channel.eventLoop))
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: endpoint.host, port: endpoint.port).get()
        } catch {
            throw BenchmarkError(code: .endpointUnreachable, message: "\(endpoint): \(error)")
        }
        let handler = try await channel.eventLoop.submit {
            NIOLoopBound(try channel.pipeline.syncOperations.handler(type: UnaryCallConnection.self), eventLoop: channel.eventLoop)
        }.get()
        return Connection(endpoint: endpoint, channel: channel, handler: handler)
    }
}

/// What every connection's workers share: the encoded requests, the ticket counter and the pacing.
private final class LoadPlan: Sendable {
    let path: String
    let requests: [ByteBuffer]
    let rate: Int
    let timeout: TimeAmount?
    let start: NIODeadline
    private let nextTicket = Atomic<Int>(0)

    init(path: String, requests: [ByteBuffer], rate: Int, timeout: TimeAmount?, start: NIODeadline) {
        self.path = path
        self.requests = requests
        self.rate = rate
        self.timeout = timeout
        self.start = start
    }

    /// The next request number to send, handed out across all connections without a lock.
    func takeTicket() -> Int {
        nextTicket.wrappingAdd(1, ordering: .relaxed).oldValue
    }
}

/// The workers of one connection, confined to its event loop: each sends a request, records its
/// latency when the answer comes, and sends the next until the tickets run out.
private final class ConnectionLoad {
    private let plan: LoadPlan
    private let connection: UnaryCallConnection
    private let eventLoop: any EventLoop
    private let finished: EventLoopPromise<LatencyRecorder>
    private var recorder: LatencyRecorder
    private var activeWorkers = 0

    init(plan: LoadPlan, connection: UnaryCallConnection, eventLoop: any EventLoop) {
        self.plan = plan
        self.connection = connection
        self.eventLoop = eventLoop
        finished = eventLoop.makePromise()
        recorder = LatencyRecorder(expectedCount: plan.requests.count)
    }

    func run(workers: Int) -> EventLoopFuture<LatencyRecorder> {
        activeWorkers = workers
        if workers == 0 { finished.succeed(recorder) }
        for _ in 0..<workers { sendNext() }
        return finished.futureResult
    }

    private func sendNext() {
        let index = plan.takeTicket()
        guard index < plan.requests.count else {
            activeWorkers -= 1
            if activeWorkers == 0 { finished.succeed(recorder) }
            return
        }
        if plan.rate > 0 {
            let due = plan.start + .nanoseconds(Int64(Double(index) * 1e9 / Double(plan.rate)))
            if due > .now() {
                eventLoop.assumeIsolated().scheduleTask(deadline: due) { self.send(index) }
                return
            }
        }
        send(index)
    }

    private func send(_ index: Int) {
        let sent = NIODeadline.now()
        connection.call(path: plan.path, framedRequest: plan.requests[index], timeout: plan.timeout) { result in
            switch result {
            case .success:
                self.recorder.record(.nanoseconds((NIODeadline.now() - sent).nanoseconds))
            case .failure(let failure):
                self.recorder.recordFailure(failure)
            }
            self.sendNext()
        }
    }
}
