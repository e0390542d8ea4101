import Bus
import Foundation
import Logging
import Synchronization
import Testing

/// The parent of every bus suite: serialized, so the timing assertions do not compete for the two cores.
@Suite(.serialized) struct BusTests {}

/// A fresh temporary directory for `ipc://` endpoints, removed at the end of the test.
final class TemporaryDirectory {
    let path: String

    init() throws {
        var template = Array("/tmp/bus-test-XXXXXX".utf8CString)
        let created = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        path = String(cString: try #require(created))
    }

    func endpoint(_ name: String) -> String { "ipc://\(path)/\(name).sock" }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// Quiet by default; `BUS_TEST_LOG=debug swift test ...` shows the bus's own logging.
func testLogger(_ label: String = "bus-test") -> Logger {
    var logger = Logger(label: label)
    let level = ProcessInfo.processInfo.environment["BUS_TEST_LOG"].flatMap(Logger.Level.init(rawValue:))
    logger.logLevel = level ?? .critical
    return logger
}

/// A client configuration with a short heartbeat, so liveness tests take a fraction of a second.
func fastClientConfiguration() -> BusClient.Configuration {
    var configuration = BusClient.Configuration()
    configuration.heartbeatInterval = .milliseconds(100)
    configuration.missedHeartbeatsBeforeDead = 3
    return configuration
}

/// A server whose handler answers every request with "echo:" + payload.
func startEchoServer(_ endpoint: String) throws -> (BusServer, Task<Void, any Error>) {
    let server = try BusServer(bind: endpoint, logger: testLogger("server"))
    let task = Task {
        try await server.run { request in request.reply(Array("echo:".utf8) + request.payload) }
    }
    return (server, task)
}

/// A server bound to a free loopback TCP port, and its endpoint.
func bindOnFreeTCPPort(configuration: BusServer.Configuration = .init()) throws -> (BusServer, String) {
    for _ in 0..<50 {
        let endpoint = "tcp://127.0.0.1:\(Int.random(in: 20_000..<60_000))"
        if let server = try? BusServer(bind: endpoint, configuration: configuration, logger: testLogger()) { return (server, endpoint) }
    }
    throw BusError.bindFailed("tcp://127.0.0.1", "no free port found")
}

/// An event publisher bound to a free loopback TCP port, and its endpoint.
func bindPublisherOnFreeTCPPort(curve: BusCurveKeys?) throws -> (EventPublisher, String) {
    for _ in 0..<50 {
        let endpoint = "tcp://127.0.0.1:\(Int.random(in: 20_000..<60_000))"
        if let publisher = try? EventPublisher(bind: endpoint, logger: testLogger(), curve: curve) { return (publisher, endpoint) }
    }
    throw BusError.bindFailed("tcp://127.0.0.1", "no free port found")
}

/// Polls `condition` every 5 ms until it holds or `timeout` passes; returns whether it held.
func eventually(within timeout: Duration = .seconds(5), _ condition: () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(5))
    }
    return await condition()
}

/// Runs `body` and returns what it threw as a `BusError` (nil when it did not throw), with the time it took.
func timedFailure(_ body: () async throws(BusError) -> [UInt8]) async -> (BusError?, Duration) {
    let start = ContinuousClock.now
    do {
        _ = try await body()
        return (nil, ContinuousClock.now - start)
    } catch {
        return (error, ContinuousClock.now - start)
    }
}

/// Requests the handler holds without answering, so tests can control when (or whether) they are answered.
final class HeldRequests: Sendable {
    private let requests = Mutex<[BusIncomingRequest]>([])

    func append(_ request: BusIncomingRequest) { requests.withLock { $0.append(request) } }
    var count: Int { requests.withLock { $0.count } }
    func removeAll() -> [BusIncomingRequest] { requests.withLock { let all = $0; $0 = []; return all } }
}

extension Array where Element == UInt8 {
    init(_ string: String) { self = Array(string.utf8) }
}

extension BusClient {
    /// Every reply of a streaming request, partials then the final one, or its failure.
    func streamedReplies(_ payload: [UInt8], timeout: Duration) async throws(BusError) -> [[UInt8]] {
        let collected = Mutex<[[UInt8]]>([])
        let outcome: Result<[[UInt8]], BusError> = await withCheckedContinuation { continuation in
            streamingRequest(payload, timeout: timeout) { reply in
                switch reply {
                case .partial(let bytes):
                    collected.withLock { $0.append(bytes) }
                case .final(let bytes):
                    continuation.resume(returning: .success(collected.withLock { $0 + [bytes] }))
                case .failed(let error):
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        return try outcome.get()
    }
}

/// Sends a request with a 300 ms timeout that waits behind held work, and returns how it failed once
/// its deadline has passed at the server too. The server counts a deadline from when the request
/// reached it: once the request is seen waiting (`waitingCount` 1), its deadline is at most 300 ms
/// away, however late it arrived.
func requestExpiredWhileWaiting(_ client: BusClient, waitingCount: @escaping @Sendable () -> Int) async throws -> BusError? {
    let late = Task { await timedFailure { () async throws(BusError) in try await client.request([2], timeout: .milliseconds(300)) } }
    #expect(await eventually { waitingCount() == 1 })
    try await Task.sleep(for: .milliseconds(400))
    return await late.value.0
}
