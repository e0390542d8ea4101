import EtceteraAPI
import Foundation
import GRPCWire
import NIOCore
import NIOPosix

/// What a client sees while the server defragments: a steady writer and a steady reader, each one
/// call at a time on a connection of its own, run before, during and after one Defragment call made
/// on a third connection (as `etcdctl defrag` would from another process).
///
/// Every call keeps its send and answer times; a call counts as "during" the defragment if it was
/// outstanding at any moment between the Defragment call's sending and its answer, so the longest
/// put of that window is the longest write pause the defragment caused.
public struct DefragmentBenchmark: Sendable {
    public struct Configuration: Sendable {
        public var endpoint = Endpoint(host: "127.0.0.1", port: 2379)
        /// Puts per second, one at a time.
        public var putRate = 300
        /// Ranges per second, one at a time; 0 is as fast as they are answered.
        public var readRate = 1000
        /// Single-key ranges at the head: linearizable unless this is set.
        public var serializableReads = false
        public var keySize = 8
        public var valueSize = 256
        /// Puts and ranges pick their key at random among this many (the keys of etcd's tool).
        public var keySpaceSize = 4096
        /// Steady load before the Defragment call, the baseline.
        public var beforeSeconds = 3.0
        /// Steady load after the Defragment call was answered.
        public var afterSeconds = 3.0
        /// Deadline of each put and range; `nil` waits as long as the server takes.
        public var requestTimeout: Duration?

        public init() {}
    }

    public let configuration: Configuration

    public init(_ configuration: Configuration) throws {
        guard configuration.putRate > 0, configuration.readRate >= 0 else {
            throw BenchmarkError(code: .invalidConfiguration, message: "--put-rate must be positive and --read-rate not negative")
        }
        guard configuration.beforeSeconds >= 0, configuration.afterSeconds >= 0 else {
            throw BenchmarkError(code: .invalidConfiguration, message: "--before-seconds and --after-seconds must not be negative")
        }
        try KeyEncoding.validate(keySize: configuration.keySize, keySpaceSize: configuration.keySpaceSize)
        self.configuration = configuration
    }

    static let defragmentPath = "/etcdserverpb.Maintenance/Defragment"

    /// Runs the load and the defragment; `log` hears the phases as they start.
    public func run(log: @escaping @Sendable (String) -> Void) async throws -> DefragmentBenchmarkReport {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var connections: [OpenConnection] = []
        do {
            for _ in 0..<3 {
                connections.append(try await OpenConnection.open(to: configuration.endpoint, group: group))
            }
            let report = try await measure(writer: connections[0], reader: connections[1], defragmenter: connections[2], log: log)
            for connection in connections { try? await connection.channel.close() }
            try await group.shutdownGracefully()
            return report
        } catch {
            for connection in connections { try? await connection.channel.close() }
            try? await group.shutdownGracefully()
            throw error
        }
    }

    private func measure(
        writer: OpenConnection, reader: OpenConnection, defragmenter: OpenConnection,
        log: @escaping @Sendable (String) -> Void
    ) async throws -> DefragmentBenchmarkReport {
        let timeout = configuration.requestTimeout.map(TimeAmount.init)
        let puts = try await start(
            on: writer, path: "/etcdserverpb.KV/Put", requests: putRequests(), rate: configuration.putRate, timeout: timeout)
        let reads = try await start(
            on: reader, path: "/etcdserverpb.KV/Range", requests: rangeRequests(), rate: configuration.readRate, timeout: timeout)
        let loadStart = NIODeadline.now()
        log("steady load started: \(configuration.putRate) puts/s, \(configuration.readRate) ranges/s")
        try await Task.sleep(for: .milliseconds(Int64(configuration.beforeSeconds * 1000)))

        log("defragment started")
        let (defragmentStart, defragmentEnd, defragmentFailure) = try await defragment(on: defragmenter)
        let seconds = Double((defragmentEnd - defragmentStart).nanoseconds) / 1e9
        log("defragment " + (defragmentFailure.map { "failed after \(String(format: "%.2f", seconds)) s: \($0)" }
            ?? "answered after \(String(format: "%.2f", seconds)) s"))
        try await Task.sleep(for: .milliseconds(Int64(configuration.afterSeconds * 1000)))

        let putCalls = try await stop(puts)
        let readCalls = try await stop(reads)
        return DefragmentBenchmarkReport(
            configuration: configuration, loadStart: loadStart, defragmentStart: defragmentStart,
            defragmentEnd: defragmentEnd, defragmentFailure: defragmentFailure, puts: putCalls, reads: readCalls)
    }

    private func defragment(on connection: OpenConnection) async throws -> (NIODeadline, NIODeadline, String?) {
        let framed = try GRPCFraming.framed(
            Etcdserverpb_DefragmentRequest().serializedBytes() as [UInt8], allocator: ByteBufferAllocator())
        let answered = connection.eventLoop.makePromise(of: (NIODeadline, NIODeadline, String?).self)
        let handler = connection.handler
        connection.eventLoop.execute {
            let sent = NIODeadline.now()
            handler.value.call(path: Self.defragmentPath, framedRequest: framed, timeout: nil) { result in
                switch result {
                case .success: answered.succeed((sent, .now(), nil))
                case .failure(let failure): answered.succeed((sent, .now(), "\(failure)"))
                }
            }
        }
        return try await answered.futureResult.get()
    }

    private func start(
        on connection: OpenConnection, path: String, requests: [ByteBuffer], rate: Int, timeout: TimeAmount?
    ) async throws -> CallerHandle {
        let handler = connection.handler
        let eventLoop = connection.eventLoop
        let caller = try await eventLoop.submit {
            let caller = SteadyCaller(
                connection: handler.value, eventLoop: eventLoop, path: path, requests: requests, rate: rate, timeout: timeout)
            caller.start()
            return NIOLoopBound(caller, eventLoop: eventLoop)
        }.get()
        return CallerHandle(caller: caller, eventLoop: eventLoop)
    }

    private func stop(_ handle: CallerHandle) async throws -> [TimedCall] {
        try await handle.eventLoop.flatSubmit { handle.caller.value.stop() }.get()
    }

    /// One put per key of the key space, all with one random value (etcd's tool's layout).
    private func putRequests() throws -> [ByteBuffer] {
        let allocator = ByteBufferAllocator()
        let value = KeyEncoding.randomValue(size: configuration.valueSize)
        return try (0..<configuration.keySpaceSize).map { number in
            var request = Etcdserverpb_PutRequest()
            request.key = KeyEncoding.key(number, size: configuration.keySize)
            request.value = value
            return try GRPCFraming.framed(request.serializedBytes() as [UInt8], allocator: allocator)
        }
    }

    /// One single-key range per key of the key space.
    private func rangeRequests() throws -> [ByteBuffer] {
        let allocator = ByteBufferAllocator()
        return try (0..<configuration.keySpaceSize).map { number in
            var request = Etcdserverpb_RangeRequest()
            request.key = KeyEncoding.key(number, size: configuration.keySize)
            request.serializable = configuration.serializableReads
            return try GRPCFraming.framed(request.serializedBytes() as [UInt8], allocator: allocator)
        }
    }
}

/// A steady caller, reachable from outside its event loop.
private struct CallerHandle: Sendable {
    let caller: NIOLoopBound<SteadyCaller>
    let eventLoop: any EventLoop
}
