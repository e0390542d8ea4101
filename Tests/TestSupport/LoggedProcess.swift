import Foundation

/// A server executable started by hand for a test, what it prints (its log) kept in a file. Stopped
/// by `stop()` or when released: SIGTERM, then SIGKILL if it has not exited within 10 s.
public final class LoggedProcess: @unchecked Sendable {
    public let process: Process
    private let logPath: String

    /// - Parameter environment: added to the test's environment, from which every `ETCD_*` variable is
    ///   removed first, so that only what the test sets configures etcd or Etcetera.
    public init(executable: String, arguments: [String], environment: [String: String] = [:], logPath: String) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("ETCD_") }.merging(environment) { $1 }
        self.logPath = logPath
        try process.runAlone(loggingTo: logPath)
    }

    public var pid: Int32 { process.processIdentifier }

    /// Everything the process printed so far.
    public var log: String {
        (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
    }

    /// Log lines containing every one of `fragments`.
    public func logLines(containing fragments: String...) -> [Substring] {
        Log.lines(of: log, containing: fragments)
    }

    public func stop() {
        process.stop()
    }

    deinit { stop() }
}

/// Reading servers' logs.
public enum Log {
    /// The lines of `log` that contain every one of `fragments`.
    public static func lines(of log: String, containing fragments: [String]) -> [Substring] {
        log.split(separator: "\n").filter { line in fragments.allSatisfy { line.contains($0) } }
    }
}
