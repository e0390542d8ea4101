import Foundation
import TestSupport
import Testing

/// A store the storage engine cannot open.
@Suite("Corruption")
struct CorruptionTests {
    @Test("etcetera-kv refuses a database the storage engine reports corrupt: one error line naming the data dir, exit status 1")
    func unopenableDatabase() async throws {
        let directory = TestPaths.temporaryDirectory(prefix: "kv-corrupt")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // A LevelDB directory whose descriptor (MANIFEST) is garbage, as after a torn or stray write.
        try Data("MANIFEST-000002\n".utf8).write(to: URL(fileURLWithPath: directory + "/CURRENT"))
        try Data(repeating: 0xA5, count: 100).write(to: URL(fileURLWithPath: directory + "/MANIFEST-000002"))
        let output = try await Command.run(TestPaths.executable("etcetera-kv"), [
            "--data-dir", directory, "--listen", "ipc://\(directory)/kv.sock", "--events", "ipc://\(directory)/events.sock",
        ])
        #expect(output.status == 1)
        let lines = output.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(output.stderr)")
        #expect(lines.first?.contains("cannot open the store in \(directory): storage corrupted: Corruption: ") == true, "\(output.stderr)")
    }
}
