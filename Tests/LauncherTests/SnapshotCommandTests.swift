import EtceteraAPI
import Foundation
import Lease
import MVCC
import Snapshot
import Storage
import Testing

@testable import Launcher

@Suite("etcetera snapshot restore and status", .timeLimit(.minutes(10)))
struct SnapshotCommandTests {
    @Test("the command line takes etcdctl's forms and refuses what etcdctl refuses")
    func parsing() throws {
        #expect(try SnapshotCommand.parse(["status", "s.snap"]) == .status(file: "s.snap", format: .simple))
        #expect(try SnapshotCommand.parse(["status", "-w", "table", "s.snap"]) == .status(file: "s.snap", format: .table))
        #expect(try SnapshotCommand.parse(["status", "s.snap", "--write-out=json"]) == .status(file: "s.snap", format: .json))
        #expect(try SnapshotCommand.parse(["restore", "s.snap", "--data-dir", "/d"]) == .restore(file: "s.snap", dataDirectory: "/d"))
        #expect(try SnapshotCommand.parse(["restore", "s.snap"]) == .restore(file: "s.snap", dataDirectory: "default.etcd"))
        #expect(try SnapshotCommand.parse(["restore", "--name=n1", "s.snap"]) == .restore(file: "s.snap", dataDirectory: "n1.etcd"))
        #expect(try SnapshotCommand.parse(["--help"]) == .help)
        let failures: [([String], String)] = [
            (["status"], "snapshot status requires exactly one argument"),
            (["status", "a", "b"], "snapshot status requires exactly one argument"),
            (["status", "-w", "xml", "s.snap"], "unsupported output format \"xml\""),
            (["status", "s.snap", "--data-dir", "d"], "unknown flag: --data-dir"),
            (["restore", "s.snap", "--data-dir"], "flag needs an argument: --data-dir"),
            (["save", "s.snap"], "unknown command \"save\" for \"etcetera snapshot\""),
        ]
        for (arguments, message) in failures {
            let error = try #require(throws: LauncherError.self) { try SnapshotCommand.parse(arguments) }
            #expect(error.message == message)
        }
    }

    @Test("status prints etcdctl's columns in its simple, table, json and fields layouts")
    func statusLayouts() {
        let status = SnapshotStatus(summary: SnapshotSummary(
            revision: 3, compactRevision: -1, keyCount: 6, recordCount: 20, totalBytes: 24_576,
            checksum: [0xB3, 0xA1, 0xDC, 0x66] + [UInt8](repeating: 0, count: 28)))
        // The same numbers as a real `etcdctl snapshot status` printed them.
        #expect(status.render(.simple) == "b3a1dc66, 3, 6, 25 kB\n")
        #expect(status.render(.table) == """
            +----------+----------+------------+------------+
            |   HASH   | REVISION | TOTAL KEYS | TOTAL SIZE |
            +----------+----------+------------+------------+
            | b3a1dc66 |        3 |          6 |      25 kB |
            +----------+----------+------------+------------+

            """)
        #expect(status.render(.json) == "{\"hash\":3013729382,\"revision\":3,\"totalKey\":6,\"totalSize\":24576}\n")
        #expect(status.render(.fields) == "\"Hash\" : 3013729382\n\"Revision\" : 3\n\"Keys\" : 6\n\"Size\" : 24576\n")
        #expect([0, 9, 10, 999, 1000, 1049, 2_100_000, 25_000_000_000].map(SnapshotStatus.humanBytes)
            == ["0 B", "9 B", "10 B", "999 B", "1.0 kB", "1.0 kB", "2.1 MB", "25 GB"])
    }

    /// A snapshot of a store with history, a compaction and two leases (one with a key).
    private func makeSnapshot(in directory: String) async throws -> (path: String, store: MVCCStore) {
        var configuration = MVCCStore.Configuration()
        configuration.syncWrites = false
        let store = try MVCCStore(storage: InMemoryStorage(), configuration: configuration)
        _ = try await store.write(.registerLeases([(id: 0x1234, ttl: 120), (id: 0x99, ttl: 7)]))
        for (key, value, lease) in [("a", "1", 0), ("b", "1", 0x1234), ("a", "2", 0), ("c", "1", 0)] as [(String, String, Int64)] {
            var put = Etcdserverpb_PutRequest()
            put.key = Data(key.utf8)
            put.value = Data(value.utf8)
            put.lease = lease
            _ = try await store.write(.put(put))
        }
        var compaction = Etcdserverpb_CompactionRequest()
        compaction.revision = 3
        compaction.physical = true
        _ = try await store.write(.compact(compaction))
        let path = directory + "/store.snap"
        _ = try store.writeSnapshot(to: path)
        return (path, store)
    }

    private func range(_ store: MVCCStore, revision: Int64) throws -> [String] {
        var request = Etcdserverpb_RangeRequest()
        request.key = Data([0])
        request.rangeEnd = Data([0])
        request.revision = revision
        return try store.range(request).kvs.map {
            "\(String(decoding: $0.key, as: UTF8.self))=\(String(decoding: $0.value, as: UTF8.self))@\($0.modRevision)/l\($0.lease)"
        }
    }

    @Test("restore builds the kv and lease stores where the services look, identical to the snapshot's")
    func restore() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (path, original) = try await makeSnapshot(in: directory)
        let command = try SnapshotCommand.parse(["restore", path, "--data-dir", "restored"])
        let output = try command.run(workingDirectory: directory)
        #expect(output == "restored snapshot \(path) into restored: revision 5, 3 keys, 2 leases\n")

        let dataDirectory = directory + "/restored"
        let kv = try MVCCStore(storage: try LevelDBStorage(path: ServicePlan.kvDataDirectory(in: dataDirectory)))
        defer { kv.close() }
        #expect(kv.currentRevision == original.currentRevision)
        #expect(kv.compactRevision == 3)
        for revision in Int64(3)...5 {
            #expect(try range(kv, revision: revision) == range(original, revision: revision))
        }
        let now = ContinuousClock.now
        let lessor = try Lessor(
            storage: try LevelDBStorage(path: ServicePlan.leaseDataDirectory(in: dataDirectory)),
            idGenerator: LeaseIDGenerator(memberID: 1, startMilliseconds: 0), now: now)
        #expect(lessor.allLeases.map { "\($0.id):\($0.grantedTTL)" } == ["153:7", "4660:120"])
        #expect(try lessor.timeToLive(0x1234, now: now).granted == 120)
    }

    @Test("restore refuses a data dir that holds anything, and a damaged file, leaving no trace")
    func restoreRefusals() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (path, _) = try await makeSnapshot(in: directory)
        let used = directory + "/used"
        try FileManager.default.createDirectory(atPath: used + "/member", withIntermediateDirectories: true)
        let exists = try #require(throws: LauncherError.self) {
            try SnapshotCommand.restore(file: path, dataDirectory: "used").run(workingDirectory: directory)
        }
        #expect(exists.code == .dataDirectoryExists)
        #expect(exists.message == "data-dir \"used\" exists")
        #expect(try FileManager.default.contentsOfDirectory(atPath: used) == ["member"])

        try FileManager.default.createDirectory(atPath: directory + "/empty", withIntermediateDirectories: true)
        _ = try SnapshotCommand.restore(file: path, dataDirectory: "empty").run(workingDirectory: directory)
        #expect(FileManager.default.fileExists(atPath: ServicePlan.kvDataDirectory(in: directory + "/empty")))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory + "/empty") == ["member"])

        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[100] ^= 1
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let corrupted = try #require(throws: LauncherError.self) {
            try SnapshotCommand.restore(file: path, dataDirectory: "fresh").run(workingDirectory: directory)
        }
        #expect(corrupted.code == .snapshotUnusable)
        #expect(corrupted.message.contains("corrupted"))
        #expect(!FileManager.default.fileExists(atPath: directory + "/fresh"))
        #expect(throws: LauncherError.self) {
            try SnapshotCommand.status(file: path, format: .simple).run(workingDirectory: directory)
        }
    }
}
