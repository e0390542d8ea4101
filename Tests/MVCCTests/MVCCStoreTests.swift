import EtceteraAPI
import Foundation
import MVCC
import Storage
import Testing
import Synchronization

@Suite("MVCC store: puts, ranges, revisions")
struct MVCCStoreTests {
    @Test("a fresh store is at revision 1 and every write bumps it once")
    func revisionsStartAtOne() async throws {
        let store = try MVCCStore.inMemory()
        #expect(store.currentRevision == 1)
        let first = try await store.put("a", "1")
        #expect(first.header.revision == 2)
        let second = try await store.put("a", "2")
        #expect(second.header.revision == 3)
        let kv = try #require(try store.get("a").kvs.first)
        #expect(kv.createRevision == 2)
        #expect(kv.modRevision == 3)
        #expect(kv.version == 2)
        #expect(kv.valueString == "2")
    }

    @Test("delete resets version and create revision; deleting nothing keeps the revision")
    func deleteSemantics() async throws {
        let store = try MVCCStore.inMemory()
        try await store.put("a", "1")
        let deleted = try await store.delete("a", prevKv: true)
        #expect(deleted.deleted == 1)
        #expect(deleted.header.revision == 3)
        #expect(deleted.prevKvs.map(\.valueString) == ["1"])
        let none = try await store.delete("a")
        #expect(none.deleted == 0)
        #expect(none.header.revision == 3)
        try await store.put("a", "again")
        let kv = try #require(try store.get("a").kvs.first)
        #expect(kv.version == 1)
        #expect(kv.createRevision == 4)
    }

    @Test("ranges: prefix, from-key, everything, limit with more and count")
    func rangeForms() async throws {
        let store = try MVCCStore.inMemory()
        for key in ["a", "b", "b1", "b2", "c", "d\u{0}x"] { try await store.put(key, "v-" + key) }
        #expect(try store.get("b", end: "c").kvs.map(\.keyString) == ["b", "b1", "b2"])
        #expect(try store.get("b1", end: "\u{0}").kvs.map(\.keyString) == ["b1", "b2", "c", "d\u{0}x"])
        #expect(try store.get("\u{0}", end: "\u{0}").count == 6)
        #expect(try store.get("c", end: "b").kvs.isEmpty)
        let limited = try store.get("a", end: "z") { $0.limit = 2 }
        #expect(limited.kvs.map(\.keyString) == ["a", "b"])
        #expect(limited.more)
        #expect(limited.count == 6)
        let counted = try store.get("a", end: "z") { $0.countOnly = true }
        #expect(counted.kvs.isEmpty)
        #expect(counted.count == 6)
        let keysOnly = try store.get("a") { $0.keysOnly = true }
        #expect(keysOnly.kvs.first?.value.isEmpty == true)
    }

    @Test("sorting by every target, ascending and descending")
    func sorting() async throws {
        let store = try MVCCStore.inMemory()
        try await store.put("a", "3")
        try await store.put("b", "1")
        try await store.put("c", "2")
        try await store.put("b", "1b")
        let byValueDesc = try store.get("a", end: "z") { $0.sortOrder = .descend; $0.sortTarget = .value }
        #expect(byValueDesc.kvs.map(\.keyString) == ["a", "c", "b"])
        let byMod = try store.get("a", end: "z") { $0.sortTarget = .mod }
        #expect(byMod.kvs.map(\.keyString) == ["a", "c", "b"])
        let byVersionDesc = try store.get("a", end: "z") { $0.sortOrder = .descend; $0.sortTarget = .version }
        #expect(byVersionDesc.kvs.map(\.keyString) == ["b", "a", "c"])
        let byKeyDescLimited = try store.get("a", end: "z") { $0.sortOrder = .descend; $0.limit = 1 }
        #expect(byKeyDescLimited.kvs.map(\.keyString) == ["c"])
        #expect(byKeyDescLimited.more)
    }

    @Test("min/max mod and create revision filters")
    func revisionFilters() async throws {
        let store = try MVCCStore.inMemory()
        try await store.put("a", "1")  // 2
        try await store.put("b", "1")  // 3
        try await store.put("a", "2")  // 4
        let modAtLeast4 = try store.get("a", end: "z") { $0.minModRevision = 4 }
        #expect(modAtLeast4.kvs.map(\.keyString) == ["a"])
        #expect(modAtLeast4.count == 2)
        let createdBy2 = try store.get("a", end: "z") { $0.maxCreateRevision = 2 }
        #expect(createdBy2.kvs.map(\.keyString) == ["a"])
    }

    @Test("reads at past revisions, and the future and compacted errors")
    func historicalReads() async throws {
        let store = try MVCCStore.inMemory()
        try await store.put("a", "1")  // 2
        try await store.put("b", "1")  // 3
        try await store.put("a", "2")  // 4
        try await store.delete("b")    // 5
        #expect(try store.get("a", end: "z", revision: 3).kvs.map(\.valueString) == ["1", "1"])
        #expect(try store.get("a", end: "z", revision: 4).kvs.map(\.valueString) == ["2", "1"])
        #expect(try store.get("a", end: "z", revision: 5).kvs.map(\.keyString) == ["a"])
        #expect(try store.get("a", revision: 1).kvs.isEmpty)
        #expect(throws: MVCCError.futureRevision) { try store.get("a", revision: 6) }
        try await store.compact(4)
        #expect(throws: MVCCError.compacted) { try store.get("a", revision: 3) }
        #expect(try store.get("a", end: "z", revision: 4).kvs.map(\.valueString) == ["2", "1"])
        await #expect(throws: MVCCError.compacted) { try await store.compact(4) }
        await #expect(throws: MVCCError.futureRevision) { try await store.compact(99) }
    }

    @Test("put flags: prev_kv, ignore_value, ignore_lease and their errors")
    func putFlags() async throws {
        let store = try MVCCStore.inMemory()
        try await store.registerLeases(7, 9)
        let first = try await store.put("a", "1", lease: 7, prevKv: true)
        #expect(!first.hasPrevKv)
        let second = try await store.put("a", "2", prevKv: true)
        #expect(second.prevKv.valueString == "1")
        var ignoreValue = Etcdserverpb_PutRequest.make("a", "")
        ignoreValue.ignoreValue = true
        ignoreValue.lease = 9
        _ = try await store.write(.put(ignoreValue))
        let kv = try #require(try store.get("a").kvs.first)
        #expect(kv.valueString == "2")
        #expect(kv.lease == 9)
        var missing = Etcdserverpb_PutRequest.make("nope", "")
        missing.ignoreValue = true
        await #expect(throws: MVCCError.keyNotFound) { try await store.write(.put(missing)) }
        var both = Etcdserverpb_PutRequest.make("a", "x")
        both.ignoreValue = true
        await #expect(throws: MVCCError.valueProvided) { try await store.write(.put(both)) }
        var leaseBoth = Etcdserverpb_PutRequest.make("a", "x", lease: 3)
        leaseBoth.ignoreLease = true
        await #expect(throws: MVCCError.leaseProvided) { try await store.write(.put(leaseBoth)) }
        await #expect(throws: MVCCError.emptyKey) { try await store.write(.put(.make("", "x"))) }
    }

    @Test("concurrent writers all succeed with distinct revisions")
    func concurrentWrites() async throws {
        let store = try MVCCStore.inMemory()
        let revisions = try await withThrowingTaskGroup(of: Int64.self) { group in
            for index in 0..<200 {
                group.addTask { try await store.put("k\(index)", "v").header.revision }
            }
            return try await group.reduce(into: [Int64]()) { $0.append($1) }
        }
        #expect(Set(revisions).count == 200)
        #expect(store.currentRevision == 201)
        #expect(try store.get("k", end: "l").count == 200)
    }

    @Test("a group is applied in order and committed at once; an invalid write fails alone")
    func group() throws {
        let store = try MVCCStore.inMemory()
        let observed = ObservedRevisions()
        let commits = Mutex(0)
        store.onCommit { revisions in
            commits.withLock { $0 += 1 }
            observed.append(revisions.map(\.revision))
        }
        let outcomes = Mutex<[Int: Result<WriteResponse, MVCCError>]>([:])
        let requests: [WriteRequest] = [
            .put(.make("a", "1")), .put(.make("", "empty key")), .put(.make("a", "2", prevKv: true)),
            .deleteRange(.init()), .put(.make("b", "1")),
        ]
        store.write(requests.enumerated().map { index, request in
            PendingWrite(request) { result in outcomes.withLock { $0[index] = result } }
        })
        let results = outcomes.withLock { $0 }
        #expect(results.count == 5)
        guard case .success(.put(let second)) = results[2] else { throw Failure("third write: \(String(describing: results[2]))") }
        #expect(second.header.revision == 3)
        #expect(second.prevKv.valueString == "1")
        guard case .failure(.emptyKey) = results[1] else { throw Failure("second write: \(String(describing: results[1]))") }
        guard case .failure(.emptyKey) = results[3] else { throw Failure("fourth write: \(String(describing: results[3]))") }
        guard case .success(.put(let last)) = results[4] else { throw Failure("last write: \(String(describing: results[4]))") }
        #expect(last.header.revision == 4)
        #expect(observed.all == [2, 3, 4])
        #expect(commits.withLock { $0 } == 1)
    }
}

struct Failure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
