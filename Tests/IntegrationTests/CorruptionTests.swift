import Foundation
import Storage
import TestSupport
import Testing

/// Damaged stores: one the storage engine cannot open, and one whose records do not agree, which the
/// start-up check catches before anything is served.
@Suite("Corruption", .timeLimit(.minutes(10)))
struct CorruptionTests {
    @Test("a store found inconsistent at start raises CORRUPT: KV requests get etcd's corrupt cluster, etcdctl alarm list/disarm work")
    func inconsistentStoreEndToEnd() async throws {
        let directory = TestPaths.temporaryDirectory(prefix: "corrupt-e2e")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            let etcetera = try await ServerProcess.etcetera(dataDirectory: directory)
            defer { etcetera.stop() }
            for (key, value) in [("a", "1"), ("d", "2")] {
                #expect(try await Etcdctl.run(["put", key, value], endpoint: etcetera.endpoint).status == 0)
            }
        }
        // Remove d's head record (`k` + key, docs/storage.md) behind the store's back.
        do {
            let storage = try LevelDBStorage(path: directory + "/member/kv")
            var batch = WriteBatch()
            batch.delete(Array("kd".utf8))
            try storage.write(batch, sync: true)
        }
        let etcetera = try await ServerProcess.etcetera(dataDirectory: directory)
        defer { etcetera.stop() }
        let get = try await Etcdctl.run(["get", "a"], endpoint: etcetera.endpoint)
        #expect(get.status == 1 && get.stderr.hasSuffix("Error: etcdserver: corrupt cluster\n"), "\(get.stderr)")
        let put = try await Etcdctl.run(["put", "x", "1"], endpoint: etcetera.endpoint)
        #expect(put.stderr.hasSuffix("Error: etcdserver: corrupt cluster\n"), "\(put.stderr)")
        let alarms = try await Etcdctl.run(["alarm", "list"], endpoint: etcetera.endpoint)
        #expect(alarms.stdout.hasPrefix("memberID:") && alarms.stdout.hasSuffix(" alarm:CORRUPT \n"), "\(alarms.stdout)")
        #expect(try await Etcdctl.run(["endpoint", "status"], endpoint: etcetera.endpoint).stdout.contains("alarm:CORRUPT"))
        #expect(etcetera.log.contains("initial corruption check"), "\(etcetera.log)")
        // The operator takes the data out, then disarms to serve again.
        #expect(try await Etcdctl.run(["alarm", "disarm"], endpoint: etcetera.endpoint).stdout.hasSuffix(" alarm:CORRUPT \n"))
        #expect(try await Etcdctl.run(["get", "a", "--print-value-only"], endpoint: etcetera.endpoint).stdout == "1\n")
    }

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
