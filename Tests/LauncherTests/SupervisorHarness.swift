import Foundation
import Logging
import Testing

@testable import Launcher

/// Records supervisor events from the supervising thread for assertions on the test's side.
final class EventLog: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [Supervisor.Event] = []

    func append(_ event: Supervisor.Event) {
        lock.withLock { events.append(event) }
    }

    var all: [Supervisor.Event] {
        lock.withLock { events }
    }

    var startedPIDs: [(service: String, pid: Int32)] {
        all.compactMap {
            if case .started(let service, let pid) = $0 { return (service, pid) }
            return nil
        }
    }

    var exitStatuses: [ServiceExitStatus] {
        all.compactMap {
            if case .exited(_, _, let status) = $0 { return status }
            return nil
        }
    }

    var restartDelays: [Duration] {
        all.compactMap {
            if case .restartScheduled(_, let delay) = $0 { return delay }
            return nil
        }
    }
}

/// Runs `Supervisor.run()` on its own thread, as `etcetera` runs it on the main thread.
final class SupervisorRun: @unchecked Sendable {
    let supervisor: Supervisor
    let events = EventLog()
    private let lock = NSLock()
    private var outcome: Result<Void, any Error>?

    init(_ configuration: Supervisor.Configuration) {
        var logger = Logger(label: "LauncherTests")
        logger.logLevel = .critical
        let events = self.events
        supervisor = Supervisor(configuration: configuration, logger: logger) { events.append($0) }
        let thread = Thread { [self] in
            let result = Result { try supervisor.run() }
            lock.withLock { outcome = result }
        }
        thread.start()
    }

    var result: Result<Void, any Error>? {
        lock.withLock { outcome }
    }

    /// Waits until `run()` returned; `false` on timeout.
    func finished(within timeout: Duration = .seconds(60)) async -> Bool {
        await eventually(within: timeout) { self.result != nil }
    }
}

/// Polls `condition` every 10 ms without blocking a thread of the cooperative pool. The timeout only
/// bounds a failing test: generous, for a machine busy with other work.
func eventually(within timeout: Duration = .seconds(60), _ condition: @Sendable () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}

/// A fresh directory under the system's temporary directory.
func makeTemporaryDirectory() throws -> String {
    let path = FileManager.default.temporaryDirectory
        .appendingPathComponent("launcher-tests-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Harmless system binaries stand in for the services.
let systemBinaries = ExecutableLocator.directory("/bin")
