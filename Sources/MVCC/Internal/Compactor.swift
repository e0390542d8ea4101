import Dispatch
import Storage
import Synchronization

/// Removes history superseded at a compaction revision, in the background and in small batches so
/// writes are never held up for long. For every key it keeps the newest revision at or below the
/// compaction point (unless that is a deletion) and drops everything older, in both the key history
/// and the revision log. Progress is recorded so a restart resumes an interrupted compaction.
final class Compactor: Sendable {
    private let storage: any KeyValueStorage
    private let queue = DispatchQueue(label: "mvcc-compactor")
    private let state = Mutex<(stopped: Bool, finished: Int64)>((false, -1))
    private let deletesPerBatch: Int

    init(storage: any KeyValueStorage, deletesPerBatch: Int) {
        self.storage = storage
        self.deletesPerBatch = deletesPerBatch
    }

    /// Queues a compaction at `revision`; `completion` runs when that history is gone.
    func schedule(revision: Int64, completion: @escaping @Sendable () -> Void) {
        queue.async { [self] in
            compact(at: revision)
            completion()
        }
    }

    /// Waits for queued compactions to finish and refuses new work.
    func stop() {
        state.withLock { $0.stopped = true }
        queue.sync {}
    }

    private func compact(at revision: Int64) {
        guard !state.withLock({ $0.stopped }), revision > state.withLock({ $0.finished }) else { return }
        let snapshot = storage.snapshot()
        let cursor = snapshot.makeCursor()
        var batch = WriteBatch()
        var deletes = 0
        var currentKey: [UInt8]?
        var newestKept: (storageKey: [UInt8], revision: Revision, isTombstone: Bool)?
        var failed = false

        func drop(_ entry: (storageKey: [UInt8], revision: Revision, isTombstone: Bool)) {
            batch.delete(entry.storageKey)
            batch.delete(StorageLayout.revisionKey(entry.revision))
            deletes += 1
            if deletes >= deletesPerBatch {
                do { try storage.write(batch, sync: false) } catch { failed = true }
                batch = WriteBatch()
                deletes = 0
            }
        }

        cursor.seek([StorageLayout.historyPrefix])
        while cursor.isValid, !failed {
            let storageKey = cursor.key
            guard let (key, entryRevision) = StorageLayout.decodeHistoryKey(storageKey) else { break }
            if key != currentKey {
                if let newest = newestKept, newest.isTombstone { drop(newest) }
                currentKey = key
                newestKept = nil
            }
            if entryRevision.main <= revision {
                if let older = newestKept { drop(older) }
                newestKept = (storageKey, entryRevision, cursor.value == StorageLayout.tombstoneMarker)
            }
            cursor.next()
        }
        // A served store's failed write stops the process (FailStop); storage that throws instead
        // leaves the compaction unrecorded, so the next start runs it again. Reads are unaffected
        // either way, as they check the compaction point, not what is left on disk.
        guard !failed else { return }
        if let newest = newestKept, newest.isTombstone { drop(newest) }
        batch.put(StorageLayout.Meta.finishedCompactRevision.storageKey, StorageLayout.encodeInt64(revision))
        do { try storage.write(batch, sync: true) } catch { return }
        state.withLock { $0.finished = revision }
        // No storage compaction here: the deleted records are still pinned by this scan and by the
        // store's committed view, so rewriting the range now copies them and doubles the files (measured
        // with 1 GiB of history). LevelDB drops them in its own compactions; Defragment returns the
        // space at once, as in etcd, where compaction frees pages and defragment shrinks the file.
    }
}
