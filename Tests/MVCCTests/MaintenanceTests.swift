import EtceteraAPI
import Foundation
import MVCC
import Storage
import Synchronization
import Testing

@Suite("MVCC store: hashes, alarms and quota, defragment")
struct MaintenanceTests {
    /// The history and hashes read off etcd 3.4.23 (`etcdctl endpoint hashkv --rev N`) for the same
    /// four puts: equal histories must hash equally on both servers.
    @Test("HashKV equals etcd's for the same history, before and after compaction")
    func hashKVMatchesEtcd() async throws {
        let store = try MVCCStore.inMemory()
        #expect(try store.hashKV(revision: 0).hash == 1_084_519_789)
        try await store.put("foo", "bar")   // 2
        try await store.put("foo", "bar")   // 3
        try await store.put("foo", "bar2")  // 4
        try await store.put("k2", "v2")     // 5
        #expect(try store.hashKV(revision: 2).hash == 3_305_255_506)
        #expect(try store.hashKV(revision: 3).hash == 4_071_776_589)
        let current = try store.hashKV(revision: 0)
        #expect(current.hash == 3_179_739_628)
        #expect(current.compactRevision == -1)
        #expect(current.header.revision == 5)
        #expect(try store.hashKV(revision: 5).hash == current.hash)

        try await store.compact(3)
        let compacted = try store.hashKV(revision: 0)
        #expect(compacted.hash == 583_781_584)
        #expect(compacted.compactRevision == 3)
        #expect(throws: MVCCError.compacted) { try store.hashKV(revision: 3) }
        #expect(throws: MVCCError.futureRevision) { try store.hashKV(revision: 6) }
    }

    @Test("HashKV is stable across reopening and changes with a write; deletions count")
    func hashKVStability() async throws {
        let directory = try temporaryDirectory()
        let before: UInt32
        do {
            let store = try MVCCStore(storage: try LevelDBStorage(path: directory))
            try await store.put("a", "1")
            try await store.delete("a")
            before = try store.hashKV(revision: 0).hash
            #expect(before != 1_084_519_789)
            store.close()
        }
        let reopened = try MVCCStore(storage: try LevelDBStorage(path: directory))
        defer { reopened.close() }
        #expect(try reopened.hashKV(revision: 0).hash == before)
        let wholeStore = reopened.hash().hash
        try await reopened.put("b", "1")
        #expect(try reopened.hashKV(revision: 0).hash != before)
        #expect(try reopened.hashKV(revision: 3).hash == before)
        #expect(reopened.hash().hash != wholeStore)
    }

    @Test("over the quota: NOSPACE is raised, puts and put txns fail, reads and deletes work, until disarmed")
    func quota() async throws {
        let directory = try temporaryDirectory()
        var configuration = MVCCStore.Configuration()
        configuration.quotaBackendBytes = 64 * 1024
        let store = try MVCCStore(storage: try LevelDBStorage(path: directory), configuration: configuration)
        let changes = Mutex<[String]>([])
        store.onAlarmChange { alarm, active in changes.withLock { $0.append("\(alarm) \(active)") } }
        let value = String(repeating: "v", count: 1024)
        var written = 0
        do {
            while written < 1000 {
                try await store.put("key\(written)", value)
                written += 1
            }
        } catch let error as MVCCError {
            #expect(error == .noSpace)
        }
        #expect(written > 10 && written < 1000)
        #expect(store.activeAlarms == [.nospace])
        #expect(store.status().alarms.map(\.alarm) == [.nospace])
        // The refused put was not applied.
        #expect(try store.get("key\(written)").count == 0)
        await #expect(throws: MVCCError.noSpace) { try await store.put("small", "x") }
        var putTxn = Etcdserverpb_TxnRequest()
        putTxn.failure = [.put("small", "x")]
        await #expect(throws: MVCCError.noSpace) { try await store.txn(putTxn) }
        #expect(try store.get("key0").count == 1)
        #expect(try await store.delete("key", end: "kez").deleted == Int64(written))
        var deleteTxn = Etcdserverpb_TxnRequest()
        deleteTxn.success = [.delete("key0")]
        _ = try await store.txn(deleteTxn)

        try await store.compact(store.currentRevision)
        store.defragment()
        var disarm = Etcdserverpb_AlarmRequest()
        disarm.action = .deactivate
        disarm.alarm = .nospace
        #expect(try store.alarm(disarm).alarms.map(\.alarm) == [.nospace])
        #expect(store.activeAlarms.isEmpty)
        #expect(try await store.put("after", "disarm").header.revision > 0)
        #expect(try store.alarm(disarm).alarms.isEmpty)
        #expect(changes.withLock { $0 } == ["nospace true", "nospace false"])
    }

    @Test("alarms survive reopening; GET lists them, ACTIVATE of NONE does nothing")
    func alarmsPersist() throws {
        let directory = try temporaryDirectory()
        do {
            let store = try MVCCStore(storage: try LevelDBStorage(path: directory))
            var activate = Etcdserverpb_AlarmRequest()
            activate.action = .activate
            activate.alarm = .corrupt
            #expect(try store.alarm(activate).alarms.map(\.alarm) == [.corrupt])
            activate.alarm = .none
            #expect(try store.alarm(activate).alarms.isEmpty)
            store.close()
        }
        let reopened = try MVCCStore(storage: try LevelDBStorage(path: directory))
        defer { reopened.close() }
        #expect(try reopened.alarm(Etcdserverpb_AlarmRequest()).alarms.map(\.alarm) == [.corrupt])
    }

    @Test("defragment gives back the space of compacted history")
    func defragmentReclaims() async throws {
        let directory = try temporaryDirectory()
        let store = try MVCCStore(storage: try LevelDBStorage(path: directory))
        defer { store.close() }
        let value = String(repeating: "x", count: 4096)
        for round in 0..<4 {
            for index in 0..<250 { try await store.put("key\(index)", value + "\(round)") }
        }
        try await store.compact(store.currentRevision)
        store.defragment()
        let afterFirst = store.sizeOnDisk
        for index in 0..<250 { try await store.delete("key\(index)") }
        try await store.compact(store.currentRevision)
        store.defragment()
        #expect(store.sizeOnDisk < afterFirst / 2)
        #expect(try store.get("key", end: "kez").count == 0)
    }
}
