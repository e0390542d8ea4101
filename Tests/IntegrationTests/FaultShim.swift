import Foundation
import TestSupport

/// The LD_PRELOAD fault shim (`Tests/FaultInjection/fault-shim.c`, docs/reliability.md) and one
/// control file: the environment that loads it into a launcher and its services, and the directives
/// that switch their disk between healthy, failing and stalled while they run.
struct FaultShim: Sendable {
    let controlPath: String
    let library: String

    /// Builds the shim (once per test process) and picks a control file, absent for now: a healthy disk.
    static func make() async throws -> FaultShim {
        FaultShim(controlPath: TestPaths.temporaryDirectory(prefix: "fault-control") + "/control", library: try await built.value)
    }

    var environment: [String: String] { ["LD_PRELOAD": library, "ETCETERA_FAULT_CONTROL": controlPath] }

    /// Replaces the control file in one step, so a process never reads half of it.
    func set(_ directives: [String]) throws {
        let staging = controlPath + ".new"
        try Data((directives.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: staging))
        guard rename(staging, controlPath) == 0 else { throw TestFailure("cannot rename \(staging): errno \(errno)") }
    }

    /// Back to a healthy disk.
    func clear() {
        try? FileManager.default.removeItem(atPath: controlPath)
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: controlPath).deletingLastPathComponent().path)
    }

    private static let built = Task<String, any Error> {
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("FaultInjection/fault-shim.c").path
        let directory = TestPaths.binaryDirectory + "/fault-shim"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let library = directory + "/libetcetera-fault-shim.so"
        let staging = directory + "/libetcetera-fault-shim.\(getpid()).so"
        let compiled = try await Command.run(
            "/usr/bin/cc", ["-shared", "-fPIC", "-O2", "-Wall", "-o", staging, source, "-ldl", "-lpthread"])
        guard compiled.status == 0 else { throw TestFailure("cannot build the fault shim:\n\(compiled.stderr)") }
        guard rename(staging, library) == 0 else { throw TestFailure("cannot rename \(staging): errno \(errno)") }
        return library
    }
}
