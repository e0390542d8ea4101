import Snapshot
import Storage

extension MVCCStore {
    /// Writes a point-in-time snapshot of the whole store to `path` (docs/snapshot.md): every storage
    /// record of the last committed view, read from that view's one storage snapshot, so the file
    /// holds exactly one revision. Writers are not held up: they commit to the engine meanwhile, and
    /// nothing of theirs enters the file.
    /// - Returns: the revision, live keys, size and checksum of the file written.
    public func writeSnapshot(to path: String) throws(MVCCError) -> SnapshotSummary {
        let view = committedView
        let cursor = view.snapshot.makeCursor()
        var keyCount: UInt64 = 0
        let writer: SnapshotWriter
        do throws(SnapshotError) {
            writer = try SnapshotWriter(path: path)
            cursor.seekToFirst()
            while cursor.isValid {
                let key = cursor.key
                if key.first == StorageLayout.headPrefix { keyCount += 1 }
                try writer.append(key: key, value: cursor.value)
                cursor.next()
            }
        } catch {
            throw .storageFailure("\(error)")
        }
        do {
            try cursor.checkError()
        } catch {
            throw MVCCError(storage: error)
        }
        do throws(SnapshotError) {
            return try writer.finish(revision: view.revision, compactRevision: view.compactRevision, keyCount: keyCount)
        } catch {
            throw .storageFailure("\(error)")
        }
    }

    /// Fills `storage`, which must be empty, with every record of a verified snapshot and opens the
    /// store on it: the store is then at the snapshot's revision and compaction point, with its keys,
    /// history and registered leases.
    public static func restore(
        from snapshot: SnapshotReader, into storage: any KeyValueStorage, configuration: Configuration = .init()
    ) throws(MVCCError) -> MVCCStore {
        let existing = storage.snapshot().makeCursor()
        existing.seekToFirst()
        guard !existing.isValid else { throw .storageFailure("a snapshot is restored into empty storage only") }
        do throws(SnapshotError) {
            var records = try snapshot.records()
            var batch = WriteBatch()
            var batchBytes = 0
            while let (key, value) = try records.next() {
                batch.put(key, value)
                batchBytes += key.count + value.count
                if batchBytes >= restoreBatchBytes {
                    try write(batch, to: storage, sync: false)
                    batch = WriteBatch()
                    batchBytes = 0
                }
            }
            try write(batch, to: storage, sync: true)
        } catch {
            throw .storageFailure("\(error)")
        }
        let store = try MVCCStore(storage: storage, configuration: configuration)
        guard store.currentRevision == snapshot.summary.revision, store.compactRevision == snapshot.summary.compactRevision else {
            store.close()
            throw .corrupt("the restored store is at revision \(store.currentRevision), the snapshot's trailer says \(snapshot.summary.revision)")
        }
        return store
    }

    private static let restoreBatchBytes = 4 << 20

    private static func write(_ batch: WriteBatch, to storage: any KeyValueStorage, sync: Bool) throws(SnapshotError) {
        do {
            try storage.write(batch, sync: sync)
        } catch {
            throw .writeFailed("\(error)")
        }
    }
}
