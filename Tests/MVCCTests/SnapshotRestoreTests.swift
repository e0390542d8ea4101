import EtceteraAPI
import Foundation
import MVCC
import Snapshot
import Storage
import Testing

@Suite("Snapshots of the store: writing one and restoring it")
struct SnapshotRestoreTests {
    /// A store with history on both sides of a compaction, leases with keys, and a deleted key.
    private func populatedStore(in directory: String) async throws -> MVCCStore {
        let store = try MVCCStore(storage: try LevelDBStorage(path: directory + "/source"))
        try await store.registerLeases(100, ttl: 30)
        try await store.registerLeases(200, ttl: 9000)
        try await store.put("a", "1")                  // 2
        try await store.put("b", "1", lease: 100)      // 3
        try await store.put("a", "2")                  // 4
        try await store.delete("b")                    // 5
        try await store.compact(4)
        try await store.put("c", "1", lease: 200)      // 6
        var txn = Etcdserverpb_TxnRequest()
        txn.success = [.put("d", "1"), .put("a", "3")]
        _ = try await store.txn(txn)                   // 7
        try await store.put("e\u{0}x", "binary key")   // 8
        return store
    }

    /// Everything a client can read: every key at every readable revision, and the events.
    private func readable(_ store: MVCCStore, through revision: Int64) throws -> [String] {
        var lines: [String] = []
        for at in max(store.compactRevision, 1)...revision {
            let kvs = try store.get("\u{0}", end: "\u{0}", revision: at).kvs
            lines.append("\(at): " + kvs.map { "\($0.keyString)=\($0.valueString)@\($0.createRevision)/\($0.modRevision)/v\($0.version)/l\($0.lease)" }.joined(separator: " "))
        }
        lines.append("events: \(try store.events(from: store.compactRevision + 1, through: revision).revisions.map(\.revision))")
        return lines
    }

    @Test("a restored store answers every read as the original did, at its head and at past revisions, with its leases")
    func restore() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try await populatedStore(in: directory)
        defer { store.close() }
        let summary = try store.writeSnapshot(to: directory + "/store.snap")
        #expect(summary.revision == 8)
        #expect(summary.compactRevision == 4)
        #expect(summary.keyCount == 4, "a, c, d and e\\0x are live")
        #expect(summary.totalBytes % 512 == 32)

        let snapshot = try SnapshotReader(path: directory + "/store.snap")
        #expect(snapshot.summary == summary)
        let restored = try MVCCStore.restore(from: snapshot, into: try LevelDBStorage(path: directory + "/restored"))
        defer { restored.close() }
        #expect(restored.currentRevision == store.currentRevision)
        #expect(restored.compactRevision == store.compactRevision)
        #expect(restored.appliedIndex == store.appliedIndex)
        #expect(try readable(restored, through: 8) == readable(store, through: 8))
        #expect(try restored.registeredLeases().map { "\($0.id):\($0.ttl)" } == ["100:30", "200:9000"])
        #expect(try restored.leaseKeys(200).keys == [Array("c".utf8)])
        #expect(throws: MVCCError.compacted) { try restored.get("a", revision: 3) }

        // It goes on from there like the original.
        #expect(try await restored.put("f", "1").header.revision == 9)
        try await restored.revokeLease(200)
        #expect(try restored.get("c").kvs.isEmpty)
    }

    @Test("a snapshot taken while writes go on holds exactly one revision, and does not hold them up")
    func consistentUnderWrites() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try MVCCStore(storage: try LevelDBStorage(path: directory + "/source"))
        defer { store.close() }
        for index in 0..<200 { try await store.put(String(format: "key-%03d", index), "value-\(index)") }
        let writes = Task {
            for round in 0..<200 { try await store.put(String(format: "key-%03d", round), "changed-\(round)") }
        }
        var summaries: [SnapshotSummary] = []
        for index in 0..<4 { summaries.append(try store.writeSnapshot(to: directory + "/\(index).snap")) }
        try await writes.value
        for (index, summary) in summaries.enumerated() {
            let restored = try MVCCStore.restore(
                from: try SnapshotReader(path: directory + "/\(index).snap"),
                into: try LevelDBStorage(path: directory + "/restored-\(index)"))
            defer { restored.close() }
            #expect(restored.currentRevision == summary.revision)
            let head = try restored.get("key-", end: "key.").kvs.map(\.valueString)
            let original = try store.get("key-", end: "key.", revision: summary.revision).kvs.map(\.valueString)
            #expect(head == original)
            #expect(head.count == 200 && summary.keyCount == 200)
        }
        #expect(store.currentRevision == 401)
    }

    @Test("restoring refuses storage that already holds data")
    func restoreIntoUsedStorage() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try MVCCStore(storage: try LevelDBStorage(path: directory + "/source"))
        try await store.put("a", "1")
        _ = try store.writeSnapshot(to: directory + "/store.snap")
        store.close()
        let used = InMemoryStorage()
        _ = try MVCCStore(storage: used)
        #expect(throws: MVCCError.storageFailure("")) {
            try MVCCStore.restore(from: try SnapshotReader(path: directory + "/store.snap"), into: used)
        }
    }
}
