import Foundation

/// A server process started for a test (Etcetera's launcher or a real etcd) on a free loopback port
/// with its own temporary data directory; stopped and cleaned up by `stop()`: a data directory the
/// server made for itself is removed once the process has exited (etcd preallocates 120 MiB in each,
/// and a run of the suite starts a hundred etcds). Its log, beside it, stays.
public final class ServerProcess: @unchecked Sendable {
    public let port: Int
    public let dataDirectory: String
    public let process: Process
    /// `http` or `https`: how the client port is served.
    public let scheme: String
    private let logPath: String
    /// Whether `dataDirectory` was made for this server alone, so that `stop()` removes it.
    private let ownsDataDirectory: Bool

    public var endpoint: String { "127.0.0.1:\(port)" }
    /// The client URL, with its scheme (what etcdctl needs for an `https://` port).
    public var clientURL: String { "\(scheme)://\(endpoint)" }

    private init(port: Int, dataDirectory: String, ownsDataDirectory: Bool, process: Process, scheme: String, logPath: String) {
        self.port = port
        self.dataDirectory = dataDirectory
        self.ownsDataDirectory = ownsDataDirectory
        self.process = process
        self.scheme = scheme
        self.logPath = logPath
    }

    /// Starts Etcetera's one-box launcher (`etcetera`) with etcd-style flags and waits until it serves.
    /// - Parameters:
    ///   - scheme: `https` serves TLS (give the certificate flags in `extraArguments`).
    ///   - environment: added to this process's environment (the launcher passes it to every service).
    public static func etcetera(
        extraArguments: [String] = [], dataDirectory: String? = nil, scheme: String = "http", environment: [String: String] = [:]
    ) async throws -> ServerProcess {
        let port = FreePort.pick()
        let directory = dataDirectory ?? TestPaths.temporaryDirectory(prefix: "etcetera")
        let url = "\(scheme)://127.0.0.1:\(port)"
        return try await start(
            executable: TestPaths.executable("etcetera"),
            arguments: ["--data-dir", directory, "--listen-client-urls", url, "--advertise-client-urls", url] + extraArguments,
            port: port, dataDirectory: directory, ownsDataDirectory: dataDirectory == nil, scheme: scheme, environment: environment)
    }

    /// Starts a fresh real etcd 3.4 (Debian's etcd-server) on free loopback ports.
    public static func etcd(extraArguments: [String] = [], scheme: String = "http") async throws -> ServerProcess {
        let port = FreePort.pick()
        let peerPort = FreePort.pick()
        let directory = TestPaths.temporaryDirectory(prefix: "etcd")
        let url = "\(scheme)://127.0.0.1:\(port)"
        let peer = "http://127.0.0.1:\(peerPort)"
        return try await start(
            executable: "/usr/bin/etcd",
            arguments: [
                "--data-dir", directory, "--listen-client-urls", url, "--advertise-client-urls", url,
                "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                "--initial-cluster", "default=\(peer)", "--log-level", "error",
            ] + extraArguments,
            port: port, dataDirectory: directory, ownsDataDirectory: true, scheme: scheme)
    }

    private static func start(
        executable: String, arguments: [String], port: Int, dataDirectory: String, ownsDataDirectory: Bool, scheme: String,
        environment: [String: String] = [:]
    ) async throws -> ServerProcess {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        let logPath = dataDirectory + ".log"
        try process.runAlone(loggingTo: logPath)
        let server = ServerProcess(
            port: port, dataDirectory: dataDirectory, ownsDataDirectory: ownsDataDirectory, process: process, scheme: scheme, logPath: logPath)
        // Generous: a busy machine can take long to start a process; a dead one fails at once.
        let deadline = ContinuousClock.now + .seconds(120)
        while !FreePort.isAccepting(port) {
            guard process.isRunning, ContinuousClock.now < deadline, !Task.isCancelled else {
                server.stop()
                throw TestFailure("\(executable) did not start serving on \(port):\n\(server.log)")
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return server
    }

    /// Everything the server printed so far.
    public var log: String {
        (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
    }

    /// Sends SIGTERM and waits for the process to exit (SIGKILL after 10 s); then removes the data
    /// directory if the server made it.
    public func stop() {
        process.stop()
        if ownsDataDirectory, !process.isRunning { try? FileManager.default.removeItem(atPath: dataDirectory) }
    }

    deinit { stop() }
}

public struct TestFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
