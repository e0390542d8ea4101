import EtceteraAPI
import Storage

/// The committed state a request starts from: one storage snapshot and the revisions it holds.
struct CommittedView: Sendable {
    let snapshot: any StorageSnapshot
    let revision: Int64
    let compactRevision: Int64
    let appliedIndex: UInt64
    /// Keys with a live value at `revision`.
    let liveKeys: Int64

    var readContext: ReadContext {
        ReadContext(
            heads: SnapshotHeads(snapshot: snapshot), history: HistoryReader(snapshot: snapshot),
            currentRevision: revision, compactRevision: compactRevision)
    }
}

/// One commit group: write requests applied in order on top of a committed view, their storage
/// operations collected into one batch that is synced once for all of them.
final class WriteSession {
    struct State {
        var revision: Int64
        var compactRevision: Int64
        var appliedIndex: UInt64
        /// Keys created minus keys deleted by this group so far.
        var liveKeyChange: Int64 = 0
        var overlay: [[UInt8]: Mvccpb_KeyValue?] = [:]
        /// Leases registered (true) or revoked (false) earlier in this group.
        var leaseOverlay: [Int64: Bool] = [:]
        /// Keys attached to a lease earlier in this group, which a revoke in the same group must find.
        var attachedInGroup: [Int64: Set<[UInt8]>] = [:]
        var batch = WriteBatch()
        var committedRevisions: [Etcetera_Kv_RevisionEvents] = []
        var scheduledCompaction: Int64?
    }

    let base: CommittedView
    private(set) var state: State

    init(base: CommittedView) {
        self.base = base
        state = State(revision: base.revision, compactRevision: base.compactRevision, appliedIndex: base.appliedIndex)
    }

    var hasChanges: Bool { !state.batch.isEmpty }

    /// Applies one request. On error the session is left exactly as before the request.
    func apply(_ request: WriteRequest) throws(MVCCError) -> WriteResponse {
        let saved = state
        do {
            let response = try applyUnchecked(request)
            state.appliedIndex += 1
            return response
        } catch {
            state = saved
            throw error
        }
    }

    /// The batch to write: every request's operations plus the metadata they moved.
    func finalBatch() -> WriteBatch {
        var batch = state.batch
        batch.put(StorageLayout.Meta.currentRevision.storageKey, StorageLayout.encodeInt64(state.revision))
        batch.put(StorageLayout.Meta.appliedIndex.storageKey, StorageLayout.encodeInt64(Int64(bitPattern: state.appliedIndex)))
        return batch
    }

    private func applyUnchecked(_ request: WriteRequest) throws(MVCCError) -> WriteResponse {
        switch request {
        case .put(let put):
            var transaction = WriteTransaction(session: self)
            let response = try transaction.put(put)
            transaction.finish()
            return .put(response)
        case .deleteRange(let delete):
            var transaction = WriteTransaction(session: self)
            let response = try transaction.deleteRange(delete)
            transaction.finish()
            return .deleteRange(response)
        case .txn(let txn):
            var transaction = WriteTransaction(session: self)
            let response = try transaction.txn(txn, isWrite: true)
            transaction.finish()
            return .txn(response)
        case .compact(let compaction):
            return .compact(try compact(compaction))
        case .registerLeases(let leases):
            for lease in leases where lease.id != 0 {
                state.batch.put(StorageLayout.leaseKey(lease.id), StorageLayout.encodeInt64(lease.ttl))
                state.leaseOverlay[lease.id] = true
            }
            return .registerLeases(revision: state.revision)
        case .revokeLease(let id):
            guard try leaseExists(id) else { throw .leaseNotFound }
            var transaction = WriteTransaction(session: self)
            let response = try transaction.revokeLease(id, keys: try attachedKeys(id))
            transaction.finish()
            state.batch.delete(StorageLayout.leaseKey(id))
            state.leaseOverlay[id] = false
            return .revokeLease(response)
        }
    }

    /// Whether puts may name lease `id`.
    func leaseExists(_ id: Int64) throws(MVCCError) -> Bool {
        if let overlaid = state.leaseOverlay[id] { return overlaid }
        do {
            return try base.snapshot.get(StorageLayout.leaseKey(id)) != nil
        } catch {
            throw MVCCError(storage: error)
        }
    }

    /// The keys whose head names lease `id` now, this group's attachments included.
    private func attachedKeys(_ id: Int64) throws(MVCCError) -> [[UInt8]] {
        try LeaseAttachments.keys(
            of: id, in: base.snapshot, heads: readContext(revision: state.revision).heads,
            alsoChecking: state.attachedInGroup[id] ?? [])
    }

    private func compact(_ request: Etcdserverpb_CompactionRequest) throws(MVCCError) -> Etcdserverpb_CompactionResponse {
        if request.revision <= state.compactRevision { throw .compacted }
        if request.revision > state.revision { throw .futureRevision }
        state.compactRevision = request.revision
        state.scheduledCompaction = request.revision
        state.batch.put(StorageLayout.Meta.compactRevision.storageKey, StorageLayout.encodeInt64(request.revision))
        var response = Etcdserverpb_CompactionResponse()
        response.header.revision = state.revision
        return response
    }

    // MARK: Mutations used by WriteTransaction.

    func readContext(revision: Int64) -> ReadContext {
        ReadContext(
            heads: OverlayHeads(base: SnapshotHeads(snapshot: base.snapshot), overlay: state.overlay),
            history: HistoryReader(snapshot: base.snapshot),
            currentRevision: revision, compactRevision: state.compactRevision)
    }

    func record(put kv: Mvccpb_KeyValue, replacing previous: Mvccpb_KeyValue?, at revision: Revision) {
        let key = [UInt8](kv.key)
        if let previous, previous.lease != 0, previous.lease != kv.lease {
            state.batch.delete(StorageLayout.attachmentKey(previous.lease, key))
        }
        if kv.lease != 0 {
            state.batch.put(StorageLayout.attachmentKey(kv.lease, key), [])
            state.attachedInGroup[kv.lease, default: []].insert(key)
        }
        var event = Mvccpb_Event()
        event.type = .put
        event.kv = kv
        state.batch.put(StorageLayout.headKey(key), StorageLayout.encode(kv))
        state.batch.put(StorageLayout.historyKey(key, revision), StorageLayout.putMarker)
        state.batch.put(StorageLayout.revisionKey(revision), StorageLayout.encode(event))
        state.overlay[key] = .some(kv)
        if previous == nil { state.liveKeyChange += 1 }
    }

    func record(deleteOf previous: Mvccpb_KeyValue, at revision: Revision) {
        let key = [UInt8](previous.key)
        if previous.lease != 0 {
            state.batch.delete(StorageLayout.attachmentKey(previous.lease, key))
        }
        var event = Mvccpb_Event()
        event.type = .delete
        event.kv.key = .init(key)
        event.kv.modRevision = revision.main
        state.batch.delete(StorageLayout.headKey(key))
        state.batch.put(StorageLayout.historyKey(key, revision), StorageLayout.tombstoneMarker)
        state.batch.put(StorageLayout.revisionKey(revision), StorageLayout.encode(event))
        state.overlay[key] = .some(nil)
        state.liveKeyChange -= 1
    }

    func commitRevision(_ events: [Mvccpb_Event]) {
        state.revision += 1
        var committed = Etcetera_Kv_RevisionEvents()
        committed.revision = state.revision
        committed.events = events
        state.committedRevisions.append(committed)
    }
}
