import EtceteraAPI
import Foundation
import GRPCWire
import NIOCore
import NIOPosix
import Synchronization

/// Watch fan-out under load, measured the way a user sees it: N watchers over M streams and K keys,
/// P puts, then a check that every watcher got exactly its events in order, and how long each event
/// took from the put's acknowledgement to its arrival (etcd's `watch-latency` measures from the same
/// point).
///
/// Put number `i` writes key `i mod K` with a value carrying `i`, so each event is traced to its put
/// without trusting the server's revisions.
public struct WatchBenchmark: Sendable {
    public struct Configuration: Sendable {
        public var endpoints: [Endpoint] = [Endpoint(host: "127.0.0.1", port: 2379)]
        /// HTTP/2 connections the watch streams and the puts are spread over (etcd's `--conns`).
        public var connections = 1
        /// Concurrent put workers (etcd's `--clients`).
        public var putClients = 1
        public var streams = 10
        public var watchersPerStream = 100
        public var keySpaceSize = 1
        public var keySize = 32
        public var valueSize = 32
        public var putTotal = 1000
        /// Puts per second; 0 is no limit.
        public var putRate = 0
        public var prevKV = false
        /// Each put waits until every watcher of its key has its event (etcd's `watch-latency`).
        public var lockstep = false
        /// Seconds to keep the watchers idle between creation and the first put (memory sampling).
        public var holdSeconds = 0.0
        /// If positive, one more stream on a connection of its own watches every key and stops
        /// reading for this many seconds from the first put.
        public var stallSeconds = 0.0
        /// How long to wait for missing events once nothing more arrives.
        public var settleSeconds = 30.0

        public init() {}
    }

    public let configuration: Configuration
    private let keySpace: WatchKeySpace
    /// How long all watchers may take to be created before the run is abandoned.
    static let creationTimeout: Duration = .seconds(120)

    public init(_ configuration: Configuration) throws {
        guard !configuration.endpoints.isEmpty else {
            throw BenchmarkError(code: .invalidConfiguration, message: "no endpoints")
        }
        guard configuration.connections > 0, configuration.putClients > 0, configuration.streams > 0,
              configuration.watchersPerStream > 0, configuration.putTotal >= 0, configuration.putRate >= 0
        else {
            throw BenchmarkError(
                code: .invalidConfiguration,
                message: "--conns, --clients, --streams and --watch-per-stream must be positive; --put-total and --put-rate not negative")
        }
        try KeyEncoding.validate(keySize: configuration.keySize, keySpaceSize: configuration.keySpaceSize)
        guard configuration.valueSize >= KeyEncoding.varintLength(keySpaceSize: max(configuration.putTotal, 1)) else {
            throw BenchmarkError(
                code: .invalidConfiguration, message: "--val-size \(configuration.valueSize) cannot carry put numbers up to \(configuration.putTotal)")
        }
        self.configuration = configuration
        keySpace = WatchKeySpace(
            size: configuration.keySpaceSize, keySize: configuration.keySize, valueSize: configuration.valueSize)
    }

    /// Runs the benchmark; `log` hears the phases as they start (scripts wait for "watchers created").
    public func run(log: @escaping @Sendable (String) -> Void) async throws -> WatchBenchmarkReport {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        var connections: [OpenConnection] = []
        do {
            for index in 0..<configuration.connections {
                let endpoint = configuration.endpoints[index % configuration.endpoints.count]
                connections.append(try await OpenConnection.open(to: endpoint, group: group))
            }
            var stalledConnection: OpenConnection?
            if configuration.stallSeconds > 0 {
                let stalled = try await OpenConnection.open(to: configuration.endpoints[0], group: group, receiveBufferBytes: 4096)
                stalledConnection = stalled
                connections.append(stalled)
            }
            let report = try await measure(
                connections: Array(connections.prefix(configuration.connections)), stalledConnection: stalledConnection, log: log)
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
        connections: [OpenConnection], stalledConnection: OpenConnection?, log: @escaping @Sendable (String) -> Void
    ) async throws -> WatchBenchmarkReport {
        let clock = ContinuousClock()
        let progress = RunProgress()
        let creationStart = clock.now
        var streams: [StreamHandle] = []
        for index in 0..<configuration.streams {
            let tallies = (0..<configuration.watchersPerStream).map { offset in
                let key = (index * configuration.watchersPerStream + offset) % keySpace.keys.count
                return WatcherTally(key: key, expected: keySpace.puts(toKey: key, putTotal: configuration.putTotal))
            }
            streams.append(try await open(on: connections[index % connections.count], tallies: tallies, progress: progress))
        }
        var stalled: StreamHandle?
        if let stalledConnection {
            let tallies = (0..<configuration.watchersPerStream).map { _ in
                WatcherTally(key: nil, expected: configuration.putTotal)
            }
            stalled = try await open(on: stalledConnection, tallies: tallies, progress: progress)
        }
        for (index, stream) in (streams + (stalled.map { [$0] } ?? [])).enumerated() {
            let remaining = Self.creationTimeout - creationStart.duration(to: clock.now)
            guard try await stream.created.futureResult.wait(upTo: TimeAmount(max(remaining, .zero))) else {
                throw BenchmarkError(
                    code: .watchersNotCreated,
                    message: "stream \(index) of \(streams.count) did not have all its watchers created within \(Self.creationTimeout)")
            }
        }
        let creationSeconds = creationStart.duration(to: clock.now).inSeconds
        let watcherCount = configuration.streams * configuration.watchersPerStream
        log("watchers created: \(watcherCount) over \(configuration.streams) streams in \(String(format: "%.2f", creationSeconds)) s")
        if configuration.holdSeconds > 0 {
            try await Task.sleep(for: .milliseconds(Int64(configuration.holdSeconds * 1000)))
        }

        var resumedAt: NIODeadline?
        if let stalledConnection {
            try await stalledConnection.channel.setOption(.autoRead, value: false).get()
        }
        log("puts started")
        let putStart = clock.now
        async let stallEnded: NIODeadline? = resume(stalledConnection, after: configuration.stallSeconds)
        let puts =
            configuration.lockstep
            ? try await lockstepPuts(on: connections[0], streams: streams, progress: progress)
            : try await LoadPlan(path: "/etcdserverpb.KV/Put", requests: putRequests(), rate: configuration.putRate, timeout: nil)
                .run(on: connections, clients: configuration.putClients)
        let putSeconds = putStart.duration(to: clock.now).inSeconds
        log("puts done")
        resumedAt = try await stallEnded
        await settle(streams + (stalled.map { [$0] } ?? []), progress: progress)
        let settledSeconds = putStart.duration(to: clock.now).inSeconds

        var results: [StreamResult] = []
        for stream in streams { results.append(try await stream.result()) }
        let stalledResult = try await stalled?.result()
        return WatchBenchmarkReport(
            configuration: configuration, creationSeconds: creationSeconds, putSeconds: putSeconds,
            settledSeconds: settledSeconds, puts: puts, streams: results, stalled: stalledResult, stallResumedAt: resumedAt)
    }

    private func putRequests() throws -> [ByteBuffer] {
        let allocator = ByteBufferAllocator()
        return try (0..<configuration.putTotal).map { put in
            try GRPCFraming.framed(putRequest(put).serializedBytes() as [UInt8], allocator: allocator)
        }
    }

    private func putRequest(_ put: Int) -> Etcdserverpb_PutRequest {
        var request = Etcdserverpb_PutRequest()
        request.key = keySpace.keys[keySpace.key(ofPut: put)]
        request.value = keySpace.value(ofPut: put)
        return request
    }

    private func open(on connection: OpenConnection, tallies: [WatcherTally], progress: RunProgress) async throws -> StreamHandle {
        let created = connection.eventLoop.makePromise(of: Void.self)
        let complete = connection.eventLoop.makePromise(of: Void.self)
        let keySpace = self.keySpace
        let prevKV = configuration.prevKV
        let handler = connection.handler
        let stream = try await connection.eventLoop.submit {
            let stream = WatchedStream(
                connection: handler.value, keySpace: keySpace, tallies: tallies,
                onCreated: { created.succeed() },
                onEvent: { progress.eventArrived(forPut: $0) },
                onComplete: { complete.succeed() })
            stream.open(prevKV: prevKV)
            return NIOLoopBound(stream, eventLoop: connection.eventLoop)
        }.get()
        return StreamHandle(stream: stream, eventLoop: connection.eventLoop, created: created, complete: complete)
    }

    /// Lets the stalled connection read again after `seconds`; returns when it did.
    private func resume(_ connection: OpenConnection?, after seconds: Double) async throws -> NIODeadline? {
        guard let connection else { return nil }
        try await Task.sleep(for: .milliseconds(Int64(seconds * 1000)))
        try await connection.channel.setOption(.autoRead, value: true).get()
        connection.channel.read()
        return .now()
    }

    /// Waits until every watcher has all its events, or until no event has arrived for
    /// `settleSeconds`.
    private func settle(_ streams: [StreamHandle], progress: RunProgress) async {
        var lastCount = -1
        var quietSince = ContinuousClock.now
        for stream in streams {
            while true {
                if (try? await stream.complete.futureResult.wait(upTo: .milliseconds(200))) == true { break }
                let count = progress.events
                if count != lastCount {
                    lastCount = count
                    quietSince = .now
                } else if quietSince.duration(to: .now) > .milliseconds(Int64(configuration.settleSeconds * 1000)) {
                    return
                }
            }
        }
    }

    /// etcd's `watch-latency`: one put at a time, each sent only once the previous one's events have
    /// reached every watcher of its key.
    private func lockstepPuts(on connection: OpenConnection, streams: [StreamHandle], progress: RunProgress) async throws -> LoadOutcome {
        var watchersOfKey = [Int](repeating: 0, count: keySpace.keys.count)
        for index in 0..<(configuration.streams * configuration.watchersPerStream) {
            watchersOfKey[index % keySpace.keys.count] += 1
        }
        let requests = try putRequests()
        var outcome = LoadOutcome(recorder: LatencyRecorder(expectedCount: requests.count), acknowledgements: [])
        let start = NIODeadline.now()
        let handler = connection.handler
        for (put, request) in requests.enumerated() {
            if configuration.putRate > 0 {
                let due = start + .nanoseconds(Int64(Double(put) * 1e9 / Double(configuration.putRate)))
                let wait = due - .now()
                if wait > .zero { try await Task.sleep(for: .nanoseconds(wait.nanoseconds)) }
            }
            let delivered = progress.expectDeliveries(watchersOfKey[keySpace.key(ofPut: put)], forPut: put, on: connection.eventLoop)
            let answered = connection.eventLoop.makePromise(of: (NIODeadline, NIODeadline).self)
            connection.eventLoop.execute {
                let sent = NIODeadline.now()
                handler.value.call(path: "/etcdserverpb.KV/Put", framedRequest: request, timeout: nil) { result in
                    answered.completeWith(result.map { (sent, .now()) }.mapError { $0 as any Error })
                }
            }
            do {
                let (sent, acknowledged) = try await answered.futureResult.get()
                outcome.recorder.record(.nanoseconds((acknowledged - sent).nanoseconds))
                outcome.acknowledgements.append((put, acknowledged))
            } catch {
                outcome.recorder.recordFailure(error)
                continue
            }
            guard (try? await delivered.wait(upTo: .milliseconds(Int64(configuration.settleSeconds * 1000)))) == true else {
                break
            }
        }
        return outcome
    }

}

/// A stream of the run, reachable from outside its event loop.
private struct StreamHandle: Sendable {
    let stream: NIOLoopBound<WatchedStream>
    let eventLoop: any EventLoop
    let created: EventLoopPromise<Void>
    let complete: EventLoopPromise<Void>

    func result() async throws -> StreamResult {
        try await eventLoop.submit {
            let stream = self.stream.value
            return StreamResult(tallies: stream.tallies, arrivals: stream.arrivals, failures: stream.failures)
        }.get()
    }
}

/// What a stream saw, copied off its event loop once the run is over.
struct StreamResult: Sendable {
    let tallies: [WatcherTally]
    let arrivals: [(put: Int32, at: NIODeadline)]
    let failures: [String]
}

/// Counters the streams update from their event loops: events seen, and in lock-step mode the
/// deliveries the current put still waits for.
private final class RunProgress: Sendable {
    private let eventCount = Atomic<Int>(0)
    private let pending = Mutex<(put: Int, remaining: Int, promise: EventLoopPromise<Void>?)>((-1, 0, nil))

    var events: Int { eventCount.load(ordering: .relaxed) }

    func eventArrived(forPut put: Int) {
        eventCount.wrappingAdd(1, ordering: .relaxed)
        let finished: EventLoopPromise<Void>? = pending.withLock { state in
            guard state.put == put, state.remaining > 0 else { return nil }
            state.remaining -= 1
            guard state.remaining == 0 else { return nil }
            defer { state.promise = nil }
            return state.promise
        }
        finished?.succeed()
    }

    /// A future that completes once `count` watchers have had put `put`'s event.
    func expectDeliveries(_ count: Int, forPut put: Int, on eventLoop: any EventLoop) -> EventLoopFuture<Void> {
        let promise = eventLoop.makePromise(of: Void.self)
        if count == 0 {
            promise.succeed()
        } else {
            pending.withLock { $0 = (put, count, promise) }
        }
        return promise.futureResult
    }
}

extension EventLoopFuture where Value == Void {
    /// True once the future succeeds within `timeout`; false if it did not, or failed.
    fileprivate func wait(upTo timeout: TimeAmount) async throws -> Bool {
        let deadline = eventLoop.makePromise(of: Bool.self)
        let timer = eventLoop.scheduleTask(in: timeout) { deadline.succeed(false) }
        whenComplete { result in
            timer.cancel()
            if case .success = result { deadline.succeed(true) } else { deadline.succeed(false) }
        }
        return try await deadline.futureResult.get()
    }
}
