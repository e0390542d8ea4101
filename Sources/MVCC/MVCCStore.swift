import EtceteraAPI
import Foundation
import Storage
import Synchronization

/// etcd's multi-version key-value store over an ordered storage engine.
///
/// Reads are served concurrently from the last committed snapshot. Writes come in groups: the
/// caller hands over every write it has (the kv service: all the requests that arrived while the
/// previous group was syncing), and the store applies them in order and commits them with a single
/// synced storage write ("group commit"), so concurrent writers share one fsync and every
/// acknowledged write is on disk. Nothing is rebuilt in memory at start: opening costs a few metadata reads
/// whatever the size of the store.
public final class MVCCStore: Sendable {
    public struct Configuration: Sendable {
        /// etcd's `--max-txn-ops`.
        public var maxTxnOperations: Int = 128
        /// Upper bound on requests applied in one commit group.
        public var maxGroupSize: Int = 1024
        /// Whether commits wait for the disk. Only tests of pure logic turn this off.
        public var syncWrites: Bool = true
        /// etcd's `--quota-backend-bytes`: a put or txn put that would take the store's size on disk
        /// to this raises the NOSPACE alarm and is refused, as are all such writes while the alarm
        /// is active. nil: no quota.
        public var quotaBackendBytes: Int64?
        /// The member the store serves: the alarms it raises itself (NOSPACE past the quota, CORRUPT
        /// when a check fails) are this member's.
        public var memberID: UInt64 = 0
        /// etcd's `--experimental-compaction-batch-limit`: most revisions a compaction deletes in one
        /// storage batch, so writes are never held up for long.
        public var compactionBatchLimit = 1000
        public init() {}
    }

    /// Called on the thread that changed an alarm (the writer, when the quota raises NOSPACE), once the
    /// change is durable: the member's alarm and whether it is now active.
    public typealias AlarmObserver = @Sendable (Etcdserverpb_AlarmMember, Bool) -> Void

    /// Called on the writing thread after each group is durable, with its revisions in order.
    public typealias CommitObserver = @Sendable ([Etcetera_Kv_RevisionEvents]) -> Void

    public let configuration: Configuration
    let storage: any KeyValueStorage
    private let committed: Mutex<CommittedView>
    /// Held while a commit is written and its view published, so a refreshed snapshot never shows a
    /// batch under the revisions of the view before it.
    private let publishing = Mutex(())
    private let writer = GroupCommit()
    let compactor: Compactor
    let quota: Quota?
    /// The active alarms, each a member's alarm of one type, as etcd keeps them.
    let alarms: Mutex<Set<Etcdserverpb_AlarmMember>>
    /// Whether a CORRUPT alarm (any member's) is in `alarms`, kept in step under its lock, so that
    /// every request checks it with one atomic load.
    let corruptAlarm: Atomic<Bool>
    let alarmObserver = Mutex<AlarmObserver?>(nil)

    /// Opens the store, initialising empty storage at revision 1 as etcd does, and resumes a compaction
    /// that a crash interrupted. Storage that holds records but no readable current revision is
    /// refused with `MVCCError.corrupt`.
    public init(storage: any KeyValueStorage, configuration: Configuration = .init()) throws(MVCCError) {
        self.storage = storage
        self.configuration = configuration
        let snapshot = storage.snapshot()
        func meta(_ name: StorageLayout.Meta) throws(MVCCError) -> Int64? {
            do {
                return StorageLayout.decodeInt64(try snapshot.get(name.storageKey))
            } catch {
                throw MVCCError(storage: error)
            }
        }
        var view: CommittedView
        if let revision = try meta(.currentRevision) {
            view = CommittedView(
                snapshot: snapshot, revision: revision,
                compactRevision: try meta(.compactRevision) ?? -1,
                appliedIndex: UInt64(bitPattern: try meta(.appliedIndex) ?? 0),
                liveKeys: Int64(try SnapshotHeads(snapshot: snapshot).heads(in: .from([]), limit: 0, countOnly: true).count))
        } else {
            // Only empty storage is a new store: one whose revision record is lost or damaged would
            // otherwise be written over at revision 1.
            let existing = snapshot.makeCursor()
            existing.seekToFirst()
            guard !existing.isValid else { throw .corrupt("the store holds records but no readable current revision") }
            do {
                try existing.checkError()
            } catch {
                throw MVCCError(storage: error)
            }
            var batch = WriteBatch()
            batch.put(StorageLayout.Meta.layoutVersion.storageKey, StorageLayout.encodeInt64(1))
            batch.put(StorageLayout.Meta.currentRevision.storageKey, StorageLayout.encodeInt64(1))
            do {
                try storage.write(batch, sync: configuration.syncWrites)
            } catch {
                throw MVCCError(storage: error)
            }
            view = CommittedView(snapshot: storage.snapshot(), revision: 1, compactRevision: -1, appliedIndex: 0, liveKeys: 0)
        }
        let finishedCompaction = try meta(.finishedCompactRevision) ?? -1
        var active: Set<Etcdserverpb_AlarmMember> = []
        let cursor = snapshot.makeCursor()
        cursor.seek(StorageLayout.alarmKeyPrefix)
        while cursor.isValid, cursor.key.starts(with: StorageLayout.alarmKeyPrefix) {
            let name = String(decoding: cursor.key.dropFirst(StorageLayout.alarmKeyPrefix.count), as: UTF8.self)
            if let record = StorageLayout.alarmRecord(named: name[...]) {
                var alarm = Etcdserverpb_AlarmMember()
                alarm.alarm = record.type
                alarm.memberID = record.member ?? configuration.memberID
                active.insert(alarm)
            }
            cursor.next()
        }
        do {
            try cursor.checkError()
        } catch {
            throw MVCCError(storage: error)
        }
        alarms = Mutex(active)
        corruptAlarm = Atomic(active.contains { $0.alarm == .corrupt })
        quota = configuration.quotaBackendBytes.map { Quota(limit: $0, storage: storage) }
        committed = Mutex(view)
        compactor = Compactor(storage: storage, deletesPerBatch: max(configuration.compactionBatchLimit, 1))
        if view.compactRevision > finishedCompaction {
            compactor.schedule(revision: view.compactRevision) { [weak self] in self?.refreshSnapshot() }
        }
    }

    /// Waits for the group being written; later writes fail with a storage error.
    public func close() {
        writer.close()
        compactor.stop()
    }

    /// Registers the observer of committed revisions (the kv service publishes them as events).
    public func onCommit(_ observer: @escaping CommitObserver) {
        writer.setObserver(observer)
    }

    var committedView: CommittedView { committed.withLock { $0 } }

    /// Writes a commit group's batch and publishes the view that includes it.
    func commit(
        _ batch: WriteBatch, revision: Int64, compactRevision: Int64, appliedIndex: UInt64, liveKeys: Int64
    ) throws(StorageError) {
        try publishing.withLock { _ throws(StorageError) in
            try storage.write(batch, sync: configuration.syncWrites)
            let view = CommittedView(
                snapshot: storage.snapshot(), revision: revision, compactRevision: compactRevision,
                appliedIndex: appliedIndex, liveKeys: liveKeys)
            committed.withLock { $0 = view }
        }
    }

    /// Replaces the published snapshot with a fresh one of the same revisions, so that history removed
    /// by compaction is released by LevelDB instead of being pinned by the old snapshot.
    func refreshSnapshot() {
        publishing.withLock { _ in
            let snapshot = storage.snapshot()
            committed.withLock { view in
                view = CommittedView(
                    snapshot: snapshot, revision: view.revision, compactRevision: view.compactRevision,
                    appliedIndex: view.appliedIndex, liveKeys: view.liveKeys)
            }
        }
    }

    // MARK: Reads

    public var currentRevision: Int64 { committedView.revision }

    /// The keys attached to lease `id` at the current revision, in key order, and that revision.
    public func leaseKeys(_ id: Int64) throws(MVCCError) -> (keys: [[UInt8]], revision: Int64) {
        let view = committedView
        return (try LeaseAttachments.keys(of: id, in: view.snapshot, heads: SnapshotHeads(snapshot: view.snapshot)), view.revision)
    }

    /// The leases the lease service registered, by stored ID, each with the TTL it was granted (0 for
    /// a registration older than the TTLs, which the lease service refreshes when it starts).
    public func registeredLeases() throws(MVCCError) -> [(id: Int64, ttl: Int64)] {
        let cursor = committedView.snapshot.makeCursor()
        var leases: [(id: Int64, ttl: Int64)] = []
        cursor.seek([StorageLayout.leasePrefix])
        while cursor.isValid, let id = StorageLayout.decodeLeaseKey(cursor.key) {
            leases.append((id, StorageLayout.decodeInt64(cursor.value) ?? 0))
            cursor.next()
        }
        do {
            try cursor.checkError()
        } catch {
            throw MVCCError(storage: error)
        }
        return leases
    }

    public var compactRevision: Int64 { committedView.compactRevision }
    public var appliedIndex: UInt64 { committedView.appliedIndex }

    /// Serves a Range at the last committed revision (or the one it asks for); refused while CORRUPT
    /// is active.
    public func range(_ request: Etcdserverpb_RangeRequest) throws(MVCCError) -> Etcdserverpb_RangeResponse {
        try RequestValidation.check(request)
        try refuseWhileCorrupt()
        return try committedView.readContext.range(request)
    }

    /// Serves a txn whose branches only read, from a snapshot, without the writer; refused while
    /// CORRUPT is active.
    public func readOnlyTxn(_ request: Etcdserverpb_TxnRequest) throws(MVCCError) -> Etcdserverpb_TxnResponse {
        try RequestValidation.check(request, maxOperations: configuration.maxTxnOperations)
        try refuseWhileCorrupt()
        var transaction = WriteTransaction(session: WriteSession(base: committedView))
        return try transaction.txn(request, isWrite: false)
    }

    /// Bytes the store occupies on disk, log included.
    public var sizeOnDisk: UInt64 { storage.sizeOnDisk }

    // MARK: Writes

    /// Applies `writes` in order on the calling thread and commits them as one group: one synced
    /// storage write (more when the group exceeds `maxGroupSize`, or when a txn reading a past
    /// revision needs the writes before it on disk). Every completion has run when this returns,
    /// except a physical compaction's, which runs once the compacted history is gone. Callers are
    /// serialized; a completion must not write. While CORRUPT is active every write fails with
    /// `MVCCError.corrupt`.
    public func write(_ writes: [PendingWrite]) {
        var valid: [PendingWrite] = []
        valid.reserveCapacity(writes.count)
        for write in writes {
            do {
                try validate(write.request)
                valid.append(write)
            } catch {
                write.completion(.failure(error))
            }
        }
        if !valid.isEmpty { writer.write(valid, store: self) }
    }

    /// One write as a group of its own.
    public func write(_ request: WriteRequest) async throws(MVCCError) -> WriteResponse {
        let result = await withCheckedContinuation { continuation in
            write([PendingWrite(request) { continuation.resume(returning: $0) }])
        }
        return try result.get()
    }

    private func validate(_ request: WriteRequest) throws(MVCCError) {
        switch request {
        case .put(let put): try RequestValidation.check(put)
        case .deleteRange(let delete): try RequestValidation.check(delete)
        case .txn(let txn): try RequestValidation.check(txn, maxOperations: configuration.maxTxnOperations)
        case .compact, .registerLeases, .revokeLease: break
        }
    }
}

/// A write and what to do with its outcome.
public struct PendingWrite: Sendable {
    public let request: WriteRequest
    public let completion: @Sendable (Result<WriteResponse, MVCCError>) -> Void

    public init(_ request: WriteRequest, completion: @escaping @Sendable (Result<WriteResponse, MVCCError>) -> Void) {
        self.request = request
        self.completion = completion
    }

    /// Whether the group pending before this write must be committed first (see `readsPastRevision`).
    var needsCommittedHistory: Bool {
        if case .txn(let txn) = request { return txn.readsPastRevision }
        return false
    }

    /// A physical compaction completes only once the compacted history is gone.
    var isPhysicalCompaction: Bool {
        if case .compact(let compaction) = request { return compaction.physical }
        return false
    }
}
