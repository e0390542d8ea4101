import EtceteraAPI
import Foundation
import MVCC
import Storage
import Testing

@Suite("MVCC store on LevelDB: durability, events, compaction")
struct PersistenceTests {
    @Test("state and revisions survive reopening the store")
    func reopen() async throws {
        let directory = try temporaryDirectory()
        do {
            let store = try MVCCStore(storage: try LevelDBStorage(path: directory))
            try await store.put("a", "1")
            try await store.put("b", "2")
            try await store.delete("a")
            store.close()
        }
        let reopened = try MVCCStore(storage: try LevelDBStorage(path: directory))
        defer { reopened.close() }
        #expect(reopened.currentRevision == 4)
        #expect(try reopened.get("a", end: "z").kvs.map(\.keyString) == ["b"])
        #expect(try reopened.get("a", revision: 2).kvs.first?.valueString == "1")
        #expect(try await reopened.put("c", "3").header.revision == 5)
    }

    @Test("event replay returns every revision with previous values, and observers see commits")
    func events() async throws {
        let store = try MVCCStore.inMemory()
        let observed = ObservedRevisions()
        store.onCommit { observed.append($0.map(\.revision)) }
        try await store.put("a", "1")  // 2
        try await store.put("a", "2")  // 3
        var txn = Etcdserverpb_TxnRequest()
        txn.success = [.put("b", "1"), .delete("a")]
        _ = try await store.txn(txn)   // 4
        let batch = try store.events(from: 3)
        #expect(batch.revisions.map(\.revision) == [3, 4])
        #expect(batch.revisions[0].events[0].prevKv.valueString == "1")
        let fourth = batch.revisions[1].events
        #expect(fourth.map(\.type) == [.put, .delete])
        #expect(fourth[1].prevKv.valueString == "2")
        #expect(fourth[1].kv.modRevision == 4)
        #expect(observed.all == [2, 3, 4])
        let paged = try store.events(from: 2, maxRevisions: 2)
        #expect(paged.revisions.map(\.revision) == [2, 3])
        #expect(paged.more)
    }

    @Test("compaction removes superseded history but keeps what reads at the compaction point need, in batches of any size",
          arguments: [1, 2, 1000])
    func compaction(batchLimit: Int) async throws {
        let store = try MVCCStore.inMemory(compactionBatchLimit: batchLimit)
        try await store.put("a", "1")  // 2
        try await store.put("a", "2")  // 3
        try await store.put("b", "1")  // 4
        try await store.delete("b")    // 5
        try await store.put("c", "1")  // 6
        try await store.compact(5)
        #expect(try store.get("a", end: "z", revision: 5).kvs.map(\.valueString) == ["2"])
        // Like etcd, compaction at 5 drops the tombstone committed at 5: a replay from 5 starts at 6.
        let events = try store.events(from: 5)
        #expect(events.revisions.map(\.revision) == [6])
        let compacted = try store.events(from: 2)
        #expect(compacted.revisions.isEmpty)
        #expect(compacted.compactRevision == 5)
    }
}

final class ObservedRevisions: Sendable {
    private let revisions = Mutex<[Int64]>([])
    func append(_ values: [Int64]) { revisions.withLock { $0 += values } }
    var all: [Int64] { revisions.withLock { $0 } }
}

import Synchronization
