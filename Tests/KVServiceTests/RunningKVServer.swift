import Bus
import EtceteraAPI
import Foundation
import KVService
import Logging
import MVCC
import Storage
import Synchronization
import TestSupport
import Testing

/// A kv service on `ipc://` sockets in a temporary directory, with a store on LevelDB in its `kv`
/// folder; everything it logs is kept in `logs`.
final class RunningKVServer {
    let directory: String
    let store: MVCCStore
    /// The store's storage, for tests that damage it underneath a serving store.
    let storage: LevelDBStorage
    let client: BusClient
    let logs = CapturedLogs()
    private let serving: Task<Void, any Error>

    var snapshotDirectory: String { directory + "/kv/snapshots" }

    /// - Parameter directory: a directory made by `makeDirectory()` whose `kv` store is used as it
    ///   is; nil for a new one.
    private init(directory: String?, partSize: Int, idleTimeout: Duration, corruptCheckInterval: Duration?) throws {
        self.directory = try directory ?? Self.makeDirectory()
        var logger = Logger(label: "kv-test") { [logs] _ in logs }
        logger.logLevel = .info
        storage = try LevelDBStorage(path: self.directory + "/kv")
        store = try MVCCStore(storage: storage)
        var configuration = KVServer.Configuration(
            listenEndpoint: "ipc://\(self.directory)/kv.sock", eventsEndpoint: "ipc://\(self.directory)/events.sock")
        configuration.snapshotDirectory = self.directory + "/kv/snapshots"
        configuration.snapshotPartSize = partSize
        configuration.snapshotIdleTimeout = idleTimeout
        configuration.corruptCheckInterval = corruptCheckInterval
        let server = try KVServer(store: store, configuration: configuration, logger: logger)
        serving = Task { try await server.run() }
        client = try BusClient(connect: configuration.listenEndpoint, configuration: .patient, logger: logger)
    }

    /// A kv service that is serving: before that (its initial corruption check, however long a busy
    /// machine makes it) it answers no heartbeat, and its clients take it for a dead one.
    static func started(
        directory: String? = nil, partSize: Int = 1 << 20, idleTimeout: Duration = .seconds(60), corruptCheckInterval: Duration? = nil
    ) async throws -> RunningKVServer {
        let kv = try RunningKVServer(directory: directory, partSize: partSize, idleTimeout: idleTimeout, corruptCheckInterval: corruptCheckInterval)
        let deadline = ContinuousClock.now + .seconds(60)
        while kv.logs.first("kv service serving") == nil {
            guard ContinuousClock.now < deadline else {
                await kv.stop()
                throw MVCCError.corrupt("the kv service did not start serving within 60 s")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return kv
    }

    /// A new temporary directory (short enough for `ipc://` socket paths).
    static func makeDirectory() throws -> String {
        var template = Array("/tmp/kv-test-XXXXXX".utf8CString)
        let created = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        return String(cString: try #require(created))
    }

    func request(_ body: (inout Etcetera_Kv_KVRequest) -> Void) async throws -> Etcetera_Kv_KVReply {
        var request = Etcetera_Kv_KVRequest()
        body(&request)
        return try Etcetera_Kv_KVReply(serializedBytes: try await client.request(try request.serializedBytes(), timeout: .seconds(10)))
    }

    func snapshotPart(id: UInt64, offset: UInt64) async throws -> Etcetera_Kv_KVReply {
        try await request { $0.snapshot.id = id; $0.snapshot.offset = offset }
    }

    func put(_ key: String, _ value: String, lease: Int64 = 0) async throws {
        let reply = try await request {
            $0.put.key = Data(key.utf8)
            $0.put.value = Data(value.utf8)
            $0.put.lease = lease
        }
        guard case .put = reply.reply else { throw MVCCError.corrupt("put failed: \(reply)") }
    }

    func stop() async {
        client.close()
        serving.cancel()
        _ = try? await serving.value
        store.close()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// A log handler that keeps every message with its level and metadata, for tests that check what a
/// service logs.
final class CapturedLogs: LogHandler, Sendable {
    struct Entry: Sendable {
        let level: Logger.Level
        let message: String
        let metadata: [String: String]
    }

    private let entries = Mutex<[Entry]>([])

    var all: [Entry] { entries.withLock { $0 } }

    func first(_ message: String) -> Entry? { all.first { $0.message == message } }

    var metadata: Logger.Metadata {
        get { [:] }
        set {}
    }

    var logLevel: Logger.Level {
        get { .trace }
        set {}
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { nil }
        set {}
    }

    func log(event: LogEvent) {
        let fields = (event.metadata ?? [:]).mapValues { "\($0)" }
        entries.withLock { $0.append(Entry(level: event.level, message: "\(event.message)", metadata: fields)) }
    }
}
