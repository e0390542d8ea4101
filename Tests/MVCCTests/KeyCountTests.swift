import EtceteraAPI
import Foundation
import MVCC
import Storage
import Testing

/// The live-key count the store reports in its status (etcd's `etcd_debugging_mvcc_keys_total`).
@Suite("Live key count")
struct KeyCountTests {
    @Test("puts of new keys add, overwrites do not, deletes, txns and lease revocations remove")
    func followsWrites() async throws {
        let store = try MVCCStore.inMemory()
        defer { store.close() }
        #expect(store.status().keyCount == 0)
        try await store.put("a", "1")
        try await store.put("b", "1")
        try await store.put("a", "2")
        #expect(store.status().keyCount == 2)
        try await store.delete("a", end: "c")
        #expect(store.status().keyCount == 0)
        try await store.delete("missing")
        #expect(store.status().keyCount == 0)
        var txn = Etcdserverpb_TxnRequest()
        txn.success = [.put("x", "1"), .put("y", "1")]
        _ = try await store.txn(txn)
        txn.success = [.put("z", "1"), .delete("x")]
        _ = try await store.txn(txn)
        #expect(store.status().keyCount == 2)
        try await store.registerLeases(7)
        try await store.put("leased-1", "v", lease: 7)
        try await store.put("leased-2", "v", lease: 7)
        #expect(store.status().keyCount == 4)
        try await store.revokeLease(7)
        #expect(store.status().keyCount == 2)
    }

    @Test("a refused write changes nothing, and a reopened store counts what it holds")
    func refusedWritesAndReopening() async throws {
        let storage = InMemoryStorage()
        let store = try MVCCStore(storage: storage)
        try await store.put("a", "1")
        var txn = Etcdserverpb_TxnRequest()
        txn.success = [.put("b", "1"), .put("c", "1"), .put("b", "2")]
        await #expect(throws: MVCCError.self) { try await store.txn(txn) }
        #expect(store.status().keyCount == 1)
        try await store.put("d", "1")
        store.close()
        let reopened = try MVCCStore(storage: storage)
        defer { reopened.close() }
        #expect(reopened.status().keyCount == 2)
    }
}
