import Foundation

/// A program that does not end by itself (`etcdctl watch`, `make-mirror`, `lock`), started for a test
/// and read while it runs; killed by `stop()` or when released.
public final class RunningCommand: @unchecked Sendable {
    public let process: Process
    private let lock = NSLock()
    private var printed = Data()

    public init(_ executable: String, _ arguments: [String], environment: [String: String] = [:], removingEnvironment removed: [String] = []) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var merged = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        for name in removed { merged.removeValue(forKey: name) }
        process.environment = merged
        let pipe = try process.runAlone {
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = FileHandle.nullDevice
            return pipe
        }
        pipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let chunk = handle.availableData
            if chunk.isEmpty {
                handle.readabilityHandler = nil
                return
            }
            self?.lock.withLock { self?.printed.append(chunk) }
        }
    }

    /// What the program printed on standard output so far.
    public var stdout: String {
        lock.withLock { String(decoding: printed, as: UTF8.self) }
    }

    /// Waits until what the program printed satisfies `condition` (true) or `timeout` passes or the
    /// program exits without it (false). The timeout bounds a failing test only: be generous.
    public func wait(within timeout: Duration = .seconds(60), until condition: (String) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while !condition(stdout) {
            guard process.isRunning, ContinuousClock.now < deadline, !Task.isCancelled else { return condition(stdout) }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return true
    }

    /// Stops the program (SIGTERM, SIGKILL after 10 s) and returns everything it printed.
    @discardableResult
    public func stop() -> String {
        process.stop()
        return stdout
    }

    deinit { process.stop() }
}
