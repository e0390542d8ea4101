import EtceteraAPI
import Foundation
import MVCC
import Storage
import Testing

@Suite("Keys attached to leases")
struct LeaseAttachmentTests {
    @Test("a put or a txn put naming a lease the lease service never registered fails as etcd's does, changing nothing")
    func unknownLease() async throws {
        let store = try MVCCStore.inMemory()
        try await store.put("a", "1")
        await #expect(throws: MVCCError.leaseNotFound) { try await store.put("a", "2", lease: 5) }
        var txn = Etcdserverpb_TxnRequest()
        var leased = Etcdserverpb_RequestOp()
        leased.requestPut = .make("c", "1", lease: 5)
        txn.success = [.put("b", "1"), leased]
        await #expect(throws: MVCCError.leaseNotFound) { try await store.txn(txn) }
        // etcd checks the lease of a plain put before its ignore flags.
        var ignoring = Etcdserverpb_PutRequest.make("missing", "", lease: 5)
        ignoring.ignoreValue = true
        await #expect(throws: MVCCError.leaseNotFound) { try await store.write(.put(ignoring)) }
        #expect(store.currentRevision == 2)
        try await store.registerLeases(5)
        try await store.put("a", "2", lease: 5)
        #expect(try store.get("a").kvs.first?.lease == 5)
    }

    @Test("revoking deletes exactly the keys that still name the lease, all in one revision; the lease is then gone")
    func revoke() async throws {
        let store = try MVCCStore.inMemory()
        try await store.registerLeases(5, 6)
        try await store.put("a", "1", lease: 5)
        try await store.put("b", "1", lease: 5)
        try await store.put("c", "1", lease: 5)
        try await store.put("e", "1", lease: 6)
        try await store.put("b", "2")  // re-put without the lease: detached
        try await store.put("c", "2", lease: 6)  // moved to another lease
        try await store.delete("a")
        try await store.put("a", "3", lease: 5)
        try await store.put("d", "1", lease: 5)
        let before = store.currentRevision
        let response = try await store.revokeLease(5)
        #expect(response.header.revision == before + 1)
        let batch = try store.events(from: before + 1)
        #expect(batch.revisions.count == 1)
        #expect(batch.revisions.first?.events.map { "\($0.type == .delete ? "DELETE" : "PUT") \(String(decoding: $0.kv.key, as: UTF8.self))" } == ["DELETE a", "DELETE d"])
        #expect(try store.get("a", end: "z").kvs.map { String(decoding: $0.key, as: UTF8.self) } == ["b", "c", "e"])
        await #expect(throws: MVCCError.leaseNotFound) { try await store.put("x", "1", lease: 5) }
        await #expect(throws: MVCCError.leaseNotFound) { try await store.revokeLease(5) }
        // A lease without keys is revoked without a new revision.
        try await store.revokeLease(6)
        #expect(store.currentRevision == before + 2, "lease 6 still had c and e")
        try await store.registerLeases(7)
        try await store.revokeLease(7)
        #expect(store.currentRevision == before + 2)
    }

    @Test("registered leases keep their granted TTL; registering again refreshes it, revoking forgets it")
    func registeredTTLs() async throws {
        let store = try MVCCStore.inMemory()
        try await store.registerLeases(5, 6, ttl: 30)
        try await store.registerLeases(6, ttl: 90)
        #expect(try store.registeredLeases().map { "\($0.id):\($0.ttl)" } == ["5:30", "6:90"])
        try await store.revokeLease(5)
        #expect(try store.registeredLeases().map(\.id) == [6])
        #expect(store.currentRevision == 1, "registering and revoking a lease without keys change no revision")
    }

    @Test("leases and attachments survive a restart")
    func persistence() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lease-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            let store = try MVCCStore(storage: try LevelDBStorage(path: directory))
            try await store.registerLeases(9)
            try await store.put("k1", "v", lease: 9)
            try await store.put("k2", "v", lease: 9)
            store.close()
        }
        let reopened = try MVCCStore(storage: try LevelDBStorage(path: directory))
        defer { reopened.close() }
        try await reopened.put("k3", "v", lease: 9)
        try await reopened.revokeLease(9)
        #expect(try reopened.get("k", end: "l").kvs.isEmpty)
    }
}
