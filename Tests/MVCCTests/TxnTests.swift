import EtceteraAPI
import Foundation
import MVCC
import Testing

@Suite("MVCC store: transactions")
struct TxnTests {
    @Test("compare picks the branch; one revision per txn with writes, none without")
    func branches() async throws {
        let store = try MVCCStore.inMemory()
        try await store.put("a", "1")  // 2
        var txn = Etcdserverpb_TxnRequest()
        txn.compare = [.value("a", .equal, "1")]
        txn.success = [.put("b", "x"), .put("c", "y"), .get("a")]
        txn.failure = [.get("a")]
        let response = try await store.txn(txn)
        #expect(response.succeeded)
        #expect(response.header.revision == 3)
        #expect(store.currentRevision == 3)
        #expect(response.responses[0].responsePut.header.revision == 3)
        #expect(response.responses[2].responseRange.header.revision == 3)
        let c = try #require(try store.get("c").kvs.first)
        #expect(c.modRevision == 3)

        txn.compare = [.value("a", .equal, "other")]
        let failed = try await store.txn(txn)
        #expect(!failed.succeeded)
        #expect(failed.header.revision == 3)
        #expect(failed.responses.first?.responseRange.kvs.first?.valueString == "1")
    }

    @Test("value compare on a missing key fails; version compare treats it as zero")
    func missingKeys() async throws {
        let store = try MVCCStore.inMemory()
        var txn = Etcdserverpb_TxnRequest()
        txn.compare = [.value("missing", .notEqual, "x")]
        #expect(try await !store.txn(txn).succeeded)
        txn.compare = [.version("missing", .equal, 0)]
        #expect(try await store.txn(txn).succeeded)
    }

    @Test("compare over a range requires every key to match")
    func rangeCompare() async throws {
        let store = try MVCCStore.inMemory()
        try await store.put("p/1", "x")
        try await store.put("p/2", "x")
        try await store.put("p/2", "y")
        var txn = Etcdserverpb_TxnRequest()
        txn.compare = [.version("p/", .equal, 1, end: "p0")]
        #expect(try await !store.txn(txn).succeeded)
        txn.compare = [.version("p/", .greater, 0, end: "p0")]
        #expect(try await store.txn(txn).succeeded)
    }

    @Test("nested txns: compares see the state before the outer txn; nested header is empty")
    func nested() async throws {
        let store = try MVCCStore.inMemory()
        var inner = Etcdserverpb_TxnRequest()
        inner.compare = [.version("a", .equal, 0)]
        inner.success = [.put("inner", "yes")]
        var outer = Etcdserverpb_TxnRequest()
        outer.success = [.put("a", "1"), .txn(inner)]
        let response = try await store.txn(outer)
        #expect(response.succeeded)
        let nested = response.responses[1].responseTxn
        #expect(nested.succeeded)
        #expect(nested.hasHeader)
        #expect(nested.header.revision == 0)
        #expect(try store.get("inner").kvs.first?.modRevision == 2)
    }

    @Test("too many operations, duplicate keys and empty compare keys are rejected")
    func validation() async throws {
        let store = try MVCCStore.inMemory(maxTxnOperations: 3)
        var tooMany = Etcdserverpb_TxnRequest()
        tooMany.success = (0..<4).map { .put("k\($0)", "v") }
        await #expect(throws: MVCCError.tooManyOperations) { try await store.txn(tooMany) }
        var duplicate = Etcdserverpb_TxnRequest()
        duplicate.success = [.put("k", "1"), .put("k", "2")]
        await #expect(throws: MVCCError.duplicateKey) { try await store.txn(duplicate) }
        var putInDeletedRange = Etcdserverpb_TxnRequest()
        putInDeletedRange.success = [.delete("a", end: "z"), .put("k", "2")]
        await #expect(throws: MVCCError.duplicateKey) { try await store.txn(putInDeletedRange) }
        var emptyCompare = Etcdserverpb_TxnRequest()
        emptyCompare.compare = [.value("", .equal, "x")]
        await #expect(throws: MVCCError.emptyKey) { try await store.txn(emptyCompare) }
        #expect(store.currentRevision == 1)
    }

    @Test("a read-only txn is served without the writer and matches a write-path read")
    func readOnly() async throws {
        let store = try MVCCStore.inMemory()
        try await store.put("a", "1")
        var txn = Etcdserverpb_TxnRequest()
        txn.compare = [.value("a", .equal, "1")]
        txn.success = [.get("a")]
        #expect(txn.isReadOnly)
        let direct = try store.readOnlyTxn(txn)
        let viaWriter = try await store.txn(txn)
        #expect(direct == viaWriter)
        #expect(direct.header.revision == 2)
    }
}
