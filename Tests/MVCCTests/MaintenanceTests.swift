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
        store.onAlarmChange { alarm, active in changes.withLock { $0.append("\(alarm.alarm) \(active)") } }
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
        #expect(store.activeAlarms.map(\.alarm) == [.nospace])
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

    @Test("alarms are kept per member id and type as etcd keeps them: member 0 is a member, disarming one leaves the others")
    func alarmsPerMember() throws {
        let directory = try temporaryDirectory()
        var configuration = MVCCStore.Configuration()
        configuration.memberID = 0x8203_9f3e_ee02_bfb3
        func request(_ action: Etcdserverpb_AlarmRequest.AlarmAction, _ type: Etcdserverpb_AlarmType, member: UInt64) -> Etcdserverpb_AlarmRequest {
            var request = Etcdserverpb_AlarmRequest()
            request.action = action
            request.alarm = type
            request.memberID = member
            return request
        }
        func listed(_ store: MVCCStore, _ type: Etcdserverpb_AlarmType = .none) throws -> [String] {
            try store.alarm(request(.get, type, member: 0)).alarms.map { "\(String($0.memberID, radix: 16)):\($0.alarm)" }
        }
        do {
            let store = try MVCCStore(storage: try LevelDBStorage(path: directory), configuration: configuration)
            #expect(try store.alarm(request(.activate, .nospace, member: 0)).alarms.map(\.memberID) == [0])
            #expect(try store.alarm(request(.activate, .nospace, member: configuration.memberID)).alarms.map(\.memberID) == [configuration.memberID])
            #expect(try store.alarm(request(.activate, .corrupt, member: 7)).alarms.count == 1)
            #expect(try listed(store) == ["0:nospace", "82039f3eee02bfb3:nospace", "7:corrupt"])
            #expect(try listed(store, .corrupt) == ["7:corrupt"])
            #expect(try store.alarm(request(.deactivate, .nospace, member: 0)).alarms.map(\.memberID) == [0])
            #expect(try store.alarm(request(.deactivate, .nospace, member: 0)).alarms.isEmpty, "nothing left to disarm")
            #expect(store.isAlarmActive(.nospace), "the member's own alarm is still in force")
            store.close()
        }
        let reopened = try MVCCStore(storage: try LevelDBStorage(path: directory), configuration: configuration)
        defer { reopened.close() }
        #expect(try listed(reopened) == ["82039f3eee02bfb3:nospace", "7:corrupt"])
        #expect(reopened.verifyIntegrity().problems.isEmpty)
    }

    @Test("an alarm recorded before alarms were kept per member is the store's own member's, and goes when that one is disarmed")
    func legacyAlarmRecord() throws {
        let directory = try temporaryDirectory()
        do {
            let store = try MVCCStore(storage: try LevelDBStorage(path: directory))
            store.close()
        }
        do {
            // The record as stores wrote it before: the meta prefix, `alarm/` and the type (1: NOSPACE).
            let storage = try LevelDBStorage(path: directory)
            var batch = WriteBatch()
            batch.put(Array("malarm/1".utf8), [])
            try storage.write(batch, sync: true)
        }
        var configuration = MVCCStore.Configuration()
        configuration.memberID = 42
        do {
            let store = try MVCCStore(storage: try LevelDBStorage(path: directory), configuration: configuration)
            #expect(store.activeAlarms.map { "\($0.memberID):\($0.alarm)" } == ["42:nospace"])
            #expect(store.verifyIntegrity().problems.isEmpty)
            var disarm = Etcdserverpb_AlarmRequest()
            disarm.action = .deactivate
            disarm.alarm = .nospace
            disarm.memberID = 42
            #expect(try store.alarm(disarm).alarms.count == 1)
            store.close()
        }
        let reopened = try MVCCStore(storage: try LevelDBStorage(path: directory), configuration: configuration)
        defer { reopened.close() }
        #expect(reopened.activeAlarms.isEmpty)
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
