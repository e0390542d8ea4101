import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs a program to completion and captures what it printed, for tests that drive real clients.
public enum Command {
    public struct Output: Sendable {
        public let stdout: String
        public let stderr: String
        public let status: Int32
    }

    /// Runs the program on a dispatch thread: waiting for a process must not occupy one of the few
    /// threads Swift's concurrency runtime shares between all the tests running in parallel.
    ///
    /// A program still running after `timeout`, or when the calling task is cancelled (a test over its
    /// time limit), is killed and the call throws: no test waits for ever on a client that hangs.
    public static func run(
        _ executable: String, _ arguments: [String], directory: String? = nil,
        environment: [String: String] = [:], removingEnvironment removed: [String] = [], input: String? = nil,
        timeout: Duration = .seconds(180)
    ) async throws -> Output {
        let started = StartedProcess()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                DispatchQueue.global().async {
                    continuation.resume(with: Result {
                        try runBlocking(started.process, executable, arguments, directory: directory, environment: environment,
                                        removingEnvironment: removed, input: input, timeout: timeout)
                    })
                }
            }
        } onCancel: {
            started.kill()
        }
    }

    private static func runBlocking(
        _ process: Process, _ executable: String, _ arguments: [String], directory: String?,
        environment: [String: String], removingEnvironment removed: [String], input: String?, timeout: Duration
    ) throws -> Output {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        var merged = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        for name in removed { merged.removeValue(forKey: name) }
        process.environment = merged
        let (stdout, stderr, stdin) = try process.runAlone {
            let pipes = (Pipe(), Pipe(), Pipe())
            process.standardOutput = pipes.0
            process.standardError = pipes.1
            process.standardInput = pipes.2
            return pipes
        }
        // The watchdog holds the pid alone: a cancelled work item stays queued, with what it holds,
        // until its deadline, and a Process holds its pipes' descriptors. Holding the process made
        // every command keep its descriptors for the whole timeout (thousands, over a run of the
        // suite), and past about 1,300 open descriptors Foundation's `Process.run` reads beyond a
        // buffer while listing /proc/self/fd, which crashed the test process. The pid is still the
        // program's while the watchdog can fire: this thread is waiting for it.
        let pid = process.processIdentifier
        let watchdog = DispatchWorkItem { _ = Glibc.kill(pid, SIGKILL) }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout.timeInterval, execute: watchdog)
        defer { watchdog.cancel() }
        if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
        try stdin.fileHandleForWriting.close()
        // Read both pipes concurrently so a chatty program cannot block on a full stderr pipe.
        let errorData = ErrorCollector(stderr.fileHandleForReading)
        let out = stdout.fileHandleForReading.readDataToEndOfFile()
        let err = errorData.wait()
        process.waitUntilExit()
        if process.terminationReason == .uncaughtSignal && process.terminationStatus == SIGKILL {
            throw TestFailure("\(executable) \(arguments.joined(separator: " ")) was killed after \(timeout) or on cancellation")
        }
        return Output(
            stdout: String(decoding: out, as: UTF8.self), stderr: String(decoding: err, as: UTF8.self),
            status: process.terminationStatus)
    }

    /// A process handed between the waiting thread, the timeout and the cancellation handler.
    private final class StartedProcess: @unchecked Sendable {
        let process: Process

        init(_ process: Process = Process()) {
            self.process = process
        }

        func kill() {
            if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
        }
    }

    private final class ErrorCollector: @unchecked Sendable {
        private var data = Data()
        private let done = DispatchSemaphore(value: 0)

        init(_ handle: FileHandle) {
            DispatchQueue.global().async {
                self.data = handle.readDataToEndOfFile()
                self.done.signal()
            }
        }

        func wait() -> Data {
            done.wait()
            return data
        }
    }
}
