import AuthService
import Bus
import EtceteraAPI
import Foundation
import Logging
import Storage
import Synchronization
import Testing
import TestSupport

/// An auth service on `ipc://` sockets in a temporary directory, with its store on LevelDB, a client and
/// a subscriber to its events. Everything it logs, at every level, is kept in `logs`.
final class RunningAuthServer: AuthBackendClient, Sendable {
    let directory: String
    let configuration: AuthServer.Configuration
    let client: BusClient
    let logs: CapturedLogs
    let eventLog = AuthEventLog()
    private let subscriber: EventSubscriber
    private let serving: Task<Void, any Error>

    /// - Parameters:
    ///   - directory: reuse a previous server's directory (a restart); nil for a fresh one.
    ///   - bcryptCost: 4 keeps tests fast; the concurrency test wants a slow hash.
    init(
        directory: String? = nil, bcryptCost: Int = 4, tokenTTL: Duration = .seconds(300),
        heartbeatInterval: Duration = .seconds(1), logs: CapturedLogs = CapturedLogs()
    ) throws {
        self.directory = try directory ?? Self.makeTemporaryDirectory()
        self.logs = logs
        let logger = logs.logger(label: "auth-test")
        var configuration = AuthServer.Configuration(
            listenEndpoint: "ipc://\(self.directory)/auth.sock", eventsEndpoint: "ipc://\(self.directory)/auth-events.sock")
        configuration.bcryptCost = bcryptCost
        configuration.tokenTTL = tokenTTL
        configuration.heartbeatInterval = heartbeatInterval
        self.configuration = configuration
        let server = try AuthServer(configuration: configuration, storage: try Self.openStorage(self.directory + "/auth"), logger: logger)
        serving = Task { try await server.run() }
        client = try BusClient(connect: configuration.listenEndpoint, configuration: .patient, logger: logger)
        subscriber = try eventLog.subscribe(to: configuration.eventsEndpoint, logger: logger)
    }

    /// Adds root with the root role and enables auth.
    func enableWithRoot(password: String = "rootpw") async throws {
        try await succeed { $0.userAdd = .with { $0.name = "root"; $0.password = password } }
        try await succeed { $0.userGrantRole = .with { $0.user = "root"; $0.role = "root" } }
        try await succeed { $0.authEnable = .init() }
    }

    /// Stops serving; `removeDirectory: false` keeps the store for a restart.
    func stop(removeDirectory: Bool = true) async {
        subscriber.close()
        client.close()
        serving.cancel()
        _ = try? await serving.value
        if removeDirectory { try? FileManager.default.removeItem(atPath: directory) }
    }

    /// Opens the store, waiting up to 5 s for a stopped server of the same directory to let go of it:
    /// LevelDB's lock goes with the last reference to the storage, which work still finishing on the
    /// stopped server's queues may hold for a moment after `stop()`.
    private static func openStorage(_ path: String) throws -> LevelDBStorage {
        let deadline = ContinuousClock.now + .seconds(5)
        var lastError: (any Error)?
        while lastError == nil || ContinuousClock.now < deadline {
            do {
                return try LevelDBStorage(path: path)
            } catch {
                guard "\(error)".contains("already held") else { throw error }
                lastError = error
                usleep(20_000)
            }
        }
        throw lastError!
    }

    private static func makeTemporaryDirectory() throws -> String {
        var template = Array("/tmp/auth-test-XXXXXX".utf8CString)
        let created = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        return String(cString: try #require(created))
    }
}

/// Every log record of the loggers it makes, rendered as text (message, metadata, source), at every level.
final class CapturedLogs: Sendable {
    private let lines = Locked<[String]>([])

    func logger(label: String) -> Logger {
        var logger = Logger(label: label) { label in Handler(label: label, logs: self) }
        logger.logLevel = .trace
        return logger
    }

    var all: [String] { lines.value }

    fileprivate func append(_ line: String) { lines.withLock { $0.append(line) } }

    private struct Handler: LogHandler {
        let label: String
        let logs: CapturedLogs
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
            let fields = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            logs.append("\(event.level) \(label) \(event.message) \(fields) \(event.error.map { "\($0)" } ?? "") \(event.source)")
        }
    }
}

/// A value behind a lock, shareable between tasks and threads.
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    init(_ value: Value) { mutex = Mutex(value) }

    var value: Value { mutex.withLock { $0 } }

    func withLock<Result>(_ body: (inout Value) -> Result) -> Result { mutex.withLock { body(&$0) } }
}
