import EtceteraAPI
import Foundation
import MVCC
import Storage
import Testing

/// Storage records written by hand, following docs/storage.md, to damage a store underneath it.
enum RawRecord {
    static func head(_ key: String) -> [UInt8] { Array("k\(key)".utf8) }

    static func history(_ key: String, _ main: Int64, _ sub: Int64 = 0) -> [UInt8] {
        var bytes = Array("h\(key)".utf8) + [0, 1]
        bytes.appendBigEndian(UInt64(main))
        bytes.appendBigEndian(UInt64(sub))
        return bytes
    }

    static func revision(_ main: Int64, _ sub: Int64 = 0) -> [UInt8] {
        var bytes: [UInt8] = Array("r".utf8)
        bytes.appendBigEndian(UInt64(main))
        bytes.appendBigEndian(UInt64(sub))
        return bytes
    }

    static func meta(_ name: String) -> [UInt8] { Array("m\(name)".utf8) }
    static func lease(_ id: Int64) -> [UInt8] { [UInt8(ascii: "g")] + int64(id) }
    static func attachment(_ id: Int64, _ key: String) -> [UInt8] { [UInt8(ascii: "a")] + int64(id) + Array(key.utf8) }

    static func int64(_ value: Int64) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.appendBigEndian(UInt64(bitPattern: value))
        return bytes
    }

    static func keyValue(_ key: String, _ value: String, create: Int64, mod: Int64, version: Int64, lease: Int64 = 0) -> Mvccpb_KeyValue {
        var kv = Mvccpb_KeyValue()
        kv.key = Data(key.utf8)
        kv.value = Data(value.utf8)
        kv.createRevision = create
        kv.modRevision = mod
        kv.version = version
        kv.lease = lease
        return kv
    }

    static func encoded(_ kv: Mvccpb_KeyValue) -> [UInt8] { try! kv.serializedBytes() }

    static func putEvent(_ kv: Mvccpb_KeyValue) -> [UInt8] {
        var event = Mvccpb_Event()
        event.type = .put
        event.kv = kv
        return try! event.serializedBytes()
    }
}

/// One way of damaging the reference history of `IntegrityTests.referenceStore`, and every kind of
/// problem the check must report for it (a damage may break more than one rule).
struct Damage: Sendable, CustomTestStringConvertible {
    let name: String
    let kinds: Set<IntegrityProblem.Kind>
    let apply: @Sendable (inout WriteBatch) -> Void

    init(name: String, kind: IntegrityProblem.Kind, also others: Set<IntegrityProblem.Kind> = [], apply: @escaping @Sendable (inout WriteBatch) -> Void) {
        self.name = name
        kinds = others.union([kind])
        self.apply = apply
    }

    var testDescription: String { name }

    static let all: [Damage] = [
        Damage(name: "an undecodable head", kind: .undecodable) { $0.put(RawRecord.head("a"), [0xFF, 0xFF, 0xFF]) },
        Damage(name: "a record with an unknown prefix", kind: .undecodable) { $0.put(Array("zebra".utf8), []) },
        Damage(name: "an undecodable revision record", kind: .undecodable) { $0.put(RawRecord.revision(5), [0x0A, 0xFF]) },
        Damage(name: "a revision record holding another revision's event", kind: .undecodable) {
            $0.put(RawRecord.revision(5), RawRecord.putEvent(RawRecord.keyValue("c", "1", create: 4, mod: 4, version: 1)))
        },
        Damage(name: "a history entry with a bad marker", kind: .undecodable, also: [.headMismatch, .historyMismatch]) { $0.put(RawRecord.history("a", 3), [7]) },
        Damage(name: "a head whose value differs from its revision record", kind: .headMismatch) {
            $0.put(RawRecord.head("a"), RawRecord.encoded(RawRecord.keyValue("a", "tampered", create: 2, mod: 3, version: 2)))
        },
        Damage(name: "a head at an older revision than its history", kind: .headMismatch) {
            $0.put(RawRecord.head("a"), RawRecord.encoded(RawRecord.keyValue("a", "1", create: 2, mod: 2, version: 1)))
        },
        Damage(name: "a head holding another key", kind: .headMismatch) {
            $0.put(RawRecord.head("a"), RawRecord.encoded(RawRecord.keyValue("x", "2", create: 2, mod: 3, version: 2)))
        },
        Damage(name: "a head of a deleted key", kind: .headMismatch) {
            $0.put(RawRecord.head("c"), RawRecord.encoded(RawRecord.keyValue("c", "1", create: 5, mod: 5, version: 1)))
        },
        Damage(name: "a head without history", kind: .headMismatch) {
            $0.put(RawRecord.head("zz"), RawRecord.encoded(RawRecord.keyValue("zz", "1", create: 2, mod: 2, version: 1)))
        },
        Damage(name: "a live key without its head", kind: .missingHead) { $0.delete(RawRecord.head("d")) },
        Damage(name: "a history entry without its revision record", kind: .historyMismatch) { $0.delete(RawRecord.revision(7, 1)) },
        Damage(name: "a revision record without its history entry", kind: .historyMismatch) { $0.delete(RawRecord.history("a", 2)) },
        Damage(name: "a tombstone marked as a put", kind: .historyMismatch, also: [.missingHead]) { $0.put(RawRecord.history("c", 6), [0]) },
        Damage(name: "a revision above the current one", kind: .revisionOutOfRange) {
            let kv = RawRecord.keyValue("f", "1", create: 8, mod: 8, version: 1)
            $0.put(RawRecord.head("f"), RawRecord.encoded(kv))
            $0.put(RawRecord.history("f", 8), [0])
            $0.put(RawRecord.revision(8), RawRecord.putEvent(kv))
        },
        Damage(name: "a revision missing from the log", kind: .missingRevision) {
            $0.delete(RawRecord.revision(5))
            $0.delete(RawRecord.history("c", 5))
        },
        Damage(name: "the newest revisions missing from the log", kind: .missingRevision) {
            $0.put(RawRecord.meta("rev"), RawRecord.int64(9))
        },
        Damage(name: "a finished compaction above the compaction point", kind: .metadata) {
            $0.put(RawRecord.meta("compact-done"), RawRecord.int64(100))
        },
        Damage(name: "an unknown layout version", kind: .metadata) { $0.put(RawRecord.meta("layout"), RawRecord.int64(2)) },
        Damage(name: "a metadata record of the wrong size", kind: .metadata) { $0.put(RawRecord.meta("applied"), [1, 2, 3]) },
        Damage(name: "an unknown metadata record", kind: .metadata) { $0.put(RawRecord.meta("bogus"), RawRecord.int64(1)) },
        Damage(name: "an attachment to a lease never registered", kind: .leaseMismatch) { $0.put(RawRecord.attachment(99, "a"), []) },
        Damage(name: "an attachment its head does not confirm", kind: .leaseMismatch) { $0.put(RawRecord.attachment(7, "a"), []) },
        Damage(name: "a head naming a lease without its attachment", kind: .leaseMismatch) { $0.delete(RawRecord.attachment(7, "b")) },
        Damage(name: "a lease in use that is not registered", kind: .leaseMismatch) { $0.delete(RawRecord.lease(7)) },
    ]
}

@Suite("MVCC store: integrity check and the CORRUPT alarm")
struct IntegrityTests {
    /// Revisions 2…7: a=1, a=2, b=1 on lease 7, c=1, delete c, and d=1 e=1 in one txn.
    static func referenceStore(on storage: any KeyValueStorage) async throws -> MVCCStore {
        var configuration = MVCCStore.Configuration()
        configuration.syncWrites = false
        let store = try MVCCStore(storage: storage, configuration: configuration)
        try await store.registerLeases(7)
        try await store.put("a", "1")
        try await store.put("a", "2")
        try await store.put("b", "1", lease: 7)
        try await store.put("c", "1")
        try await store.delete("c")
        var txn = Etcdserverpb_TxnRequest()
        txn.success = [.put("d", "1"), .put("e", "1")]
        _ = try await store.txn(txn)
        #expect(store.currentRevision == 7)
        return store
    }

    /// Every record in `storage`.
    static func recordCount(_ storage: any KeyValueStorage) -> Int {
        let cursor = storage.snapshot().makeCursor()
        cursor.seekToFirst()
        var count = 0
        while cursor.isValid {
            count += 1
            cursor.next()
        }
        return count
    }

    @Test("a clean store passes, with deletes, txns, leases and compactions, and again after reopening")
    func cleanStorePasses() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            let storage = try LevelDBStorage(path: directory)
            let store = try MVCCStore(storage: storage)
            let fresh = store.verifyIntegrity()
            #expect(fresh.isClean, "\(fresh)")
            #expect(fresh.recordsChecked == 2, "a fresh store holds its revision and layout")
            try await store.registerLeases(5, 6)
            for round in 0..<3 {
                for index in 0..<20 { try await store.put("key\(index)", "v\(round)", lease: index % 5 == 0 ? 5 : 0) }
                try await store.put("nul\0key", "\(round)")
                try await store.delete("key1\(round)")
            }
            try await store.delete("key0", end: "key05")
            var txn = Etcdserverpb_TxnRequest()
            txn.compare = [.value("key2", .equal, "v2")]
            txn.success = [.put("t1", "1"), .delete("key3"), .put("t2", "2"), .get("key", end: "kez")]
            _ = try await store.txn(txn)
            try await store.put("key5", "moved", lease: 6)
            try await store.compact(store.currentRevision - 10)
            try await store.put("key6", "after compaction", lease: 6)
            try await store.revokeLease(5)
            try await store.delete("nul\0key")
            // Checked while a compaction may still be running: what it has removed so far is
            // consistent at every moment.
            try await store.compact(store.currentRevision - 2, physical: false)
            let report = store.verifyIntegrity()
            #expect(report.isClean, "\(report)")
            #expect(report.revision == store.currentRevision)
            // Waits for both compactions, so that none resumes, unseen by the count below, on reopening.
            try await store.compact(store.currentRevision - 1)
            store.close()
            #expect(Self.recordCount(storage) > 50)
        }
        let storage = try LevelDBStorage(path: directory)
        let reopened = try MVCCStore(storage: storage)
        defer { reopened.close() }
        let report = reopened.verifyIntegrity()
        #expect(report.isClean, "\(report)")
        #expect(report.recordsChecked == Self.recordCount(storage), "every record is read once")
        #expect(report.problems.isEmpty && report.problemCount == 0)

        try await reopened.compact(reopened.currentRevision)
        try await reopened.delete("\0", end: "\0")
        let empty = reopened.verifyIntegrity()
        #expect(empty.isClean, "\(empty)")
    }

    @Test("each kind of damage is found", arguments: Damage.all)
    func damageIsFound(_ damage: Damage) async throws {
        let storage = InMemoryStorage()
        let store = try await Self.referenceStore(on: storage)
        let before = store.verifyIntegrity()
        #expect(before.isClean, "\(before)")
        store.close()
        var batch = WriteBatch()
        damage.apply(&batch)
        try storage.write(batch, sync: false)
        let reopened = try MVCCStore(storage: storage)
        defer { reopened.close() }
        let report = reopened.verifyIntegrity()
        #expect(!report.isClean)
        #expect(Set(report.problems.map(\.kind)) == damage.kinds, "\(report)")
        #expect(report.problemCount == report.problems.count)
        #expect(reopened.activeAlarms.isEmpty, "the check itself changes nothing")
    }

    @Test("the report keeps the first problems and counts the rest")
    func manyProblems() async throws {
        let storage = InMemoryStorage()
        let store = try await Self.referenceStore(on: storage)
        store.close()
        var batch = WriteBatch()
        for index in 0..<25 { batch.put(Array("zz\(index)".utf8), []) }
        try storage.write(batch, sync: false)
        let report = try MVCCStore(storage: storage).verifyIntegrity()
        #expect(report.problemCount == 25)
        #expect(report.problems.count == MVCCStore.reportedProblems)
        #expect(report.description.hasSuffix("and 15 more"))
    }

    @Test("CORRUPT raised after a failed check survives reopening; KV requests fail with storage.corrupt, maintenance works; deactivating serves again")
    func corruptAlarm() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        do {
            let storage = try LevelDBStorage(path: directory)
            try await Self.referenceStore(on: storage).close()
            var batch = WriteBatch()
            batch.delete(RawRecord.head("d"))
            try storage.write(batch, sync: true)
        }
        do {
            let store = try MVCCStore(storage: try LevelDBStorage(path: directory))
            let changes = Mutex<[String]>([])
            store.onAlarmChange { alarm, active in changes.withLock { $0.append("\(alarm.alarm) \(active)") } }
            let report = store.verifyIntegrity()
            #expect(report.problems.map(\.kind) == [.missingHead], "\(report)")
            #expect(try store.get("a").kvs.first?.valueString == "2", "served until the alarm is raised")
            try store.raiseCorruptAlarm()
            #expect(store.activeAlarms.map(\.alarm) == [.corrupt])
            #expect(changes.withLock { $0 } == ["corrupt true"])
            store.close()
        }
        let store = try MVCCStore(storage: try LevelDBStorage(path: directory))
        defer { store.close() }
        #expect(store.activeAlarms.map(\.alarm) == [.corrupt])
        try await Self.expectKVRefused(store)

        #expect(store.status().alarms.map(\.alarm) == [.corrupt])
        #expect(try store.alarm(Etcdserverpb_AlarmRequest()).alarms.map(\.alarm) == [.corrupt])
        #expect(try store.hashKV(revision: 0).header.revision == 7)
        #expect(store.hash().header.revision == 7)
        store.defragment()
        #expect(try store.events(from: 2).revisions.count == 6)
        let snapshot = directory + "/saved.snap"
        #expect(try store.writeSnapshot(to: snapshot).revision == 7)

        var disarm = Etcdserverpb_AlarmRequest()
        disarm.action = .deactivate
        disarm.alarm = .corrupt
        #expect(try store.alarm(disarm).alarms.map(\.alarm) == [.corrupt])
        #expect(store.activeAlarms.isEmpty)
        #expect(try store.get("a").kvs.first?.valueString == "2")
        #expect(try await store.put("d", "repaired").header.revision == 8)
        #expect(store.verifyIntegrity().isClean)
    }

    @Test("a client's ACTIVATE CORRUPT refuses KV requests the same way, until DEACTIVATE")
    func clientRaisedAlarm() async throws {
        let store = try await Self.referenceStore(on: InMemoryStorage())
        defer { store.close() }
        var request = Etcdserverpb_AlarmRequest()
        request.action = .activate
        request.alarm = .corrupt
        _ = try store.alarm(request)
        try await Self.expectKVRefused(store)
        // The lease service's start-up re-registration of a known lease passes: it changes nothing,
        // and without it the lease service, and so the client port, would never come up.
        try await store.registerLeases(7)
        request.action = .deactivate
        _ = try store.alarm(request)
        #expect(try store.get("a").count == 1)
        var txn = Etcdserverpb_TxnRequest()
        txn.success = [.get("a")]
        #expect(try store.readOnlyTxn(txn).succeeded)
        try await store.put("z", "1")
        try await store.revokeLease(7)
    }

    @Test("storage whose current revision record is lost or damaged is refused at open, not started over at revision 1")
    func lostRevisionRecord() async throws {
        for damaged in [nil, [1, 2, 3] as [UInt8]] {
            let storage = InMemoryStorage()
            try await Self.referenceStore(on: storage).close()
            var batch = WriteBatch()
            if let damaged { batch.put(RawRecord.meta("rev"), damaged) } else { batch.delete(RawRecord.meta("rev")) }
            try storage.write(batch, sync: false)
            let records = Self.recordCount(storage)
            let error = #expect(throws: MVCCError.self) { try MVCCStore(storage: storage) }
            #expect(error?.code == "storage.corrupt")
            #expect(Self.recordCount(storage) == records)
            #expect(try storage.snapshot().get(RawRecord.meta("rev")) == damaged)
        }
    }

    @Test("flipped bytes in a LevelDB table: the store opens, reads of the damaged block fail with storage.corrupt, the check reports it first")
    func flippedTableBytes() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // Random bytes, which the engine's compression stores verbatim, so they can be found on disk.
        let victim = Data((0..<512).map { _ in UInt8.random(in: 0...255) })
        do {
            let store = try MVCCStore(storage: try LevelDBStorage(path: directory))
            for index in 0..<200 {
                var put = Etcdserverpb_PutRequest.make(String(format: "key%03d", index), "")
                put.value = index == 100 ? victim : Data((0..<512).map { _ in UInt8.random(in: 0...255) })
                _ = try await store.write(.put(put))
            }
            // Revision 102 is then no key's newest; the last copy of the victim on disk is its
            // revision record (the engine may keep the old head too, before it).
            try await store.put("key100", "overwritten")
            store.defragment()
            store.close()
        }
        try flipBytes(of: victim, inFileEndingWith: ".ldb", in: directory)
        let store = try MVCCStore(storage: try LevelDBStorage(path: directory))
        defer { store.close() }
        #expect(try store.get("key100").kvs.first?.valueString == "overwritten")
        let pastRead = #expect(throws: MVCCError.self) { try store.get("key100", revision: 102) }
        #expect(pastRead?.code == "storage.corrupt")
        let report = store.verifyIntegrity()
        #expect(!report.isClean)
        let first = try #require(report.problems.first)
        #expect(first.kind == .unreadable, "\(report)")
        #expect(first.detail.contains("Corruption: block checksum mismatch"), "\(first)")
        #expect(Set(report.problems).count == report.problems.count, "a block met by two passes is reported once: \(report)")
    }

    @Test("flipped bytes in LevelDB's log: opening is refused with the engine's corruption message")
    func flippedLogBytes() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let victim = Data((0..<512).map { _ in UInt8.random(in: 0...255) })
        do {
            let store = try MVCCStore(storage: try LevelDBStorage(path: directory))
            var put = Etcdserverpb_PutRequest.make("key", "")
            put.value = victim
            _ = try await store.write(.put(put))
            store.close()
        }
        try flipBytes(of: victim, inFileEndingWith: ".log", in: directory)
        let error = #expect(throws: StorageError.self) { try LevelDBStorage(path: directory) }
        #expect(error?.isCorruption == true)
        #expect(error?.detail.hasPrefix("Corruption:") == true, "\(String(describing: error))")
    }

    @Test("CORRUPT raised on storage that refuses writes is in force anyway, and the failure is reported")
    func alarmOnFailingStorage() async throws {
        let storage = FailingWritesStorage()
        let store = try await Self.referenceStore(on: storage)
        defer { store.close() }
        storage.failing.withLock { $0 = true }
        let error = #expect(throws: MVCCError.self) { try store.raiseCorruptAlarm() }
        #expect(error?.code == "storage.failure")
        #expect(store.activeAlarms.map(\.alarm) == [.corrupt])
        try await Self.expectKVRefused(store)
    }

    /// Every KV request, reads included, fails with `storage.corrupt` and changes nothing.
    static func expectKVRefused(_ store: MVCCStore) async throws {
        let revision = store.currentRevision
        func expectCorrupt(_ error: MVCCError?, _ request: String, sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(error?.code == "storage.corrupt", "\(request): \(error.map(String.init(describing:)) ?? "served")", sourceLocation: sourceLocation)
        }
        expectCorrupt(#expect(throws: MVCCError.self) { try store.get("a") }, "range")
        expectCorrupt(#expect(throws: MVCCError.self) { try store.get("a", end: "z", revision: 3) }, "range at a past revision")
        var readOnly = Etcdserverpb_TxnRequest()
        readOnly.success = [.get("a")]
        expectCorrupt(#expect(throws: MVCCError.self) { try store.readOnlyTxn(readOnly) }, "read-only txn")
        expectCorrupt(await #expect(throws: MVCCError.self) { try await store.put("a", "3") }, "put")
        expectCorrupt(await #expect(throws: MVCCError.self) { try await store.delete("a") }, "delete")
        var txn = Etcdserverpb_TxnRequest()
        txn.success = [.put("x", "1")]
        expectCorrupt(await #expect(throws: MVCCError.self) { try await store.txn(txn) }, "txn")
        expectCorrupt(await #expect(throws: MVCCError.self) { try await store.compact(3) }, "compaction")
        expectCorrupt(await #expect(throws: MVCCError.self) { try await store.registerLeases(8) }, "lease registration")
        expectCorrupt(await #expect(throws: MVCCError.self) { try await store.revokeLease(7) }, "lease revoke")
        #expect(store.currentRevision == revision)
        #expect(store.compactRevision == -1)
    }
}

/// In-memory storage whose writes fail while `failing` is set, as a damaged LevelDB's do.
final class FailingWritesStorage: KeyValueStorage {
    let failing = Mutex(false)
    private let storage = InMemoryStorage()

    func write(_ batch: WriteBatch, sync: Bool) throws(StorageError) {
        if failing.withLock({ $0 }) { throw .ioFailed("writes are failing") }
        try storage.write(batch, sync: sync)
    }

    func snapshot() -> any StorageSnapshot { storage.snapshot() }
    func approximateSize(from start: [UInt8], to end: [UInt8]) -> UInt64 { storage.approximateSize(from: start, to: end) }
    var sizeOnDisk: UInt64 { storage.sizeOnDisk }
    func compact(from start: [UInt8]?, to end: [UInt8]?) {}
}

/// Inverts 16 bytes inside the last copy of `pattern` in a file of `directory` whose name ends in
/// `suffix`, as a failing disk or a stray write would.
func flipBytes(of pattern: Data, inFileEndingWith suffix: String, in directory: String) throws {
    for name in try FileManager.default.contentsOfDirectory(atPath: directory).sorted() where name.hasSuffix(suffix) {
        let url = URL(fileURLWithPath: directory + "/" + name)
        var contents = try Data(contentsOf: url)
        guard let found = contents.range(of: pattern, options: .backwards) else { continue }
        let start = found.lowerBound + pattern.count / 2
        for index in start..<start + 16 { contents[index] ^= 0xFF }
        try contents.write(to: url)
        return
    }
    Issue.record("no \(suffix) file in \(directory) holds the pattern")
}

import Synchronization
