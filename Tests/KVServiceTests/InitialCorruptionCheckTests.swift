import EtceteraAPI
import Foundation
import MVCC
import Storage
import TestSupport
import Testing

@Suite("The kv service's initial corruption check", .serialized)
struct InitialCorruptionCheckTests {
    @Test("a sound store passes the check before the service serves, and the log says so")
    func soundStore() async throws {
        let directory = try RunningKVServer.makeDirectory()
        try await Self.writeStore(in: directory)
        let kv = try await RunningKVServer.started(directory: directory)
        let reply = try await kv.request { $0.range.key = Data("a".utf8) }
        #expect(reply.range.kvs.map { String(decoding: $0.value, as: UTF8.self) } == ["1"], "\(reply)")
        #expect(kv.store.activeAlarms.isEmpty)
        let messages = kv.logs.all.map(\.message)
        let started = try #require(messages.firstIndex(of: "starting initial corruption check"))
        let passed = try #require(messages.firstIndex(of: "initial corruption check passed; no corruption"))
        let serving = try #require(messages.firstIndex(of: "kv service serving"))
        #expect(started < passed && passed < serving)
        let passedEntry = try #require(kv.logs.first("initial corruption check passed; no corruption"))
        #expect(passedEntry.level == .info)
        // Two leases, one attachment, three keys' heads, history entries and revision records, and
        // the layout, revision and applied index.
        #expect(passedEntry.metadata["records"] == "15")
        #expect(passedEntry.metadata["took"] != nil)
        await kv.stop()
    }

    @Test("a damaged store raises CORRUPT before serving: kv requests get storage.corrupt, maintenance requests work, deactivating serves again")
    func damagedStore() async throws {
        let directory = try RunningKVServer.makeDirectory()
        try await Self.writeStore(in: directory) { batch in
            // The head of b is lost: a live key the store would no longer serve.
            batch.delete(Array("kb".utf8))
        }
        let kv = try await RunningKVServer.started(directory: directory)

        func expectCorrupt(_ name: String, _ body: (inout Etcetera_Kv_KVRequest) -> Void) async throws {
            let reply = try await kv.request(body)
            #expect(reply.error.code == "storage.corrupt", "\(name): \(reply)")
        }
        try await expectCorrupt("point read") { $0.range.key = Data("a".utf8) }
        try await expectCorrupt("range") { $0.range.key = Data("a".utf8); $0.range.rangeEnd = Data("z".utf8) }
        try await expectCorrupt("read-only txn") {
            var op = Etcdserverpb_RequestOp()
            op.requestRange.key = Data("a".utf8)
            $0.txn.success = [op]
        }
        try await expectCorrupt("put") { $0.put.key = Data("a".utf8); $0.put.value = Data("2".utf8) }
        try await expectCorrupt("delete") { $0.deleteRange.key = Data("a".utf8) }
        try await expectCorrupt("txn") {
            var op = Etcdserverpb_RequestOp()
            op.requestPut.key = Data("a".utf8)
            $0.txn.success = [op]
        }
        try await expectCorrupt("compaction") { $0.compact.revision = 2 }
        try await expectCorrupt("lease registration") { $0.registerLeases.leases = [.with { $0.id = 9; $0.ttl = 10 }] }
        try await expectCorrupt("lease revoke") { $0.revokeLease.id = 7 }

        let error = try #require(kv.logs.all.first { $0.level == .error })
        #expect(error.message.contains("alarm CORRUPT raised"), "\(error)")
        // Its attachment to lease 7 now names a key that does not exist, too.
        #expect(error.metadata["problems"] == "2")
        let found = error.metadata["found"] ?? ""
        #expect(found.contains("missingHead: key \"b\" is live at revision 3.0 but has no head record"), "\(found)")
        #expect(found.contains("leaseMismatch: key \"b\" is attached to lease 7 but does not exist"), "\(found)")

        let status = try await kv.request { $0.status = Etcetera_Kv_StoreStatusRequest() }
        #expect(status.status.revision == 4)
        #expect(status.status.alarms.map(\.alarm) == [.corrupt])
        let alarms = try await kv.request { $0.alarm = Etcdserverpb_AlarmRequest() }
        #expect(alarms.alarm.alarms.map(\.alarm) == [.corrupt])
        let hashKV = try await kv.request { $0.hashKv = Etcdserverpb_HashKVRequest() }
        #expect(hashKV.hashKv.header.revision == 4, "\(hashKV)")
        let hash = try await kv.request { $0.hash = Etcdserverpb_HashRequest() }
        #expect(hash.hash.hash != 0, "\(hash)")
        let defragment = try await kv.request { $0.defragment = Etcdserverpb_DefragmentRequest() }
        #expect(defragment.defragment == Etcdserverpb_DefragmentResponse(), "\(defragment)")
        let snapshot = try await kv.snapshotPart(id: 0, offset: 0)
        #expect(snapshot.snapshot.totalBytes > 0, "\(snapshot)")

        let disarm = try await kv.request {
            $0.alarm.action = .deactivate
            $0.alarm.alarm = .corrupt
        }
        #expect(disarm.alarm.alarms.map(\.alarm) == [.corrupt])
        let served = try await kv.request { $0.range.key = Data("a".utf8) }
        #expect(served.range.kvs.count == 1, "\(served)")
        try await kv.put("b", "again")
        await kv.stop()
    }

    @Test("with a corruption check interval (etcd's --experimental-corrupt-check-time) the store is checked again while serving, and damage found later raises CORRUPT")
    func periodicCheck() async throws {
        let directory = try RunningKVServer.makeDirectory()
        try await Self.writeStore(in: directory)
        let kv = try await RunningKVServer.started(directory: directory, corruptCheckInterval: .milliseconds(100))
        #expect(await eventually(within: .seconds(30)) { kv.logs.first("periodic corruption check passed; no corruption") != nil })
        #expect(kv.store.activeAlarms.isEmpty)
        // The head of b goes underneath the store; the next commit's view shows the damage.
        var damage = WriteBatch()
        damage.delete(Array("kb".utf8))
        try kv.storage.write(damage, sync: true)
        try await kv.put("d", "1")
        #expect(await eventually(within: .seconds(30)) { kv.store.isAlarmActive(.corrupt) })
        let error = try #require(kv.logs.all.first { $0.level == .error })
        #expect(error.message == "periodic corruption check found corruption; alarm CORRUPT raised", "\(error)")
        let reply = try await kv.request { $0.range.key = Data("a".utf8) }
        #expect(reply.error.code == "storage.corrupt", "\(reply)")
        await kv.stop()
    }

    /// Writes revisions 2…4 (a, b on lease 7, c) to the store in `directory`'s `kv` folder, then
    /// applies `damage` to its storage underneath it.
    static func writeStore(in directory: String, damage: (inout WriteBatch) -> Void = { _ in }) async throws {
        let storage = try LevelDBStorage(path: directory + "/kv")
        let store = try MVCCStore(storage: storage)
        _ = try await store.write(.registerLeases([(7, 60), (8, 60)]))
        for (key, lease) in [("a", Int64(0)), ("b", 7), ("c", 0)] {
            var put = Etcdserverpb_PutRequest()
            put.key = Data(key.utf8)
            put.value = Data("1".utf8)
            put.lease = lease
            _ = try await store.write(.put(put))
        }
        store.close()
        var batch = WriteBatch()
        damage(&batch)
        if !batch.isEmpty { try storage.write(batch, sync: true) }
    }
}
