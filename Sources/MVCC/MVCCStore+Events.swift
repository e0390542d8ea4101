import EtceteraAPI

extension MVCCStore {
    /// Committed revisions from `startRevision` through `endRevision` (0: through the current one), oldest
    /// first, each with every event and its previous key-value, at most `maxRevisions` per call
    /// (`more` tells whether to ask again). Watchers use it to replay history and to fill gaps in the
    /// live stream. When `startRevision` is below the compaction point the batch carries no revisions and
    /// its `compactRevision` tells the caller how far history now reaches.
    public func events(from startRevision: Int64, through endRevision: Int64 = 0, maxRevisions: Int = 1000) throws(MVCCError) -> Etcetera_Kv_EventBatch {
        let view = committedView
        var batch = Etcetera_Kv_EventBatch()
        batch.currentRevision = view.revision
        batch.compactRevision = view.compactRevision
        let start = max(startRevision, 1)
        if start < view.compactRevision { return batch }
        let end = endRevision > 0 ? min(endRevision, view.revision) : view.revision
        guard start <= end else { return batch }

        let history = HistoryReader(snapshot: view.snapshot)
        let cursor = view.snapshot.makeCursor()
        cursor.seek(StorageLayout.revisionKey(Revision(main: start)))
        var current: Etcetera_Kv_RevisionEvents?
        while cursor.isValid {
            guard let revision = StorageLayout.decodeRevisionKey(cursor.key), revision.main <= end else { break }
            if revision.main != current?.revision {
                if let finished = current {
                    if batch.revisions.count + 1 >= maxRevisions {
                        batch.revisions.append(finished)
                        batch.more = true
                        return batch
                    }
                    batch.revisions.append(finished)
                }
                current = Etcetera_Kv_RevisionEvents()
                current?.revision = revision.main
            }
            var event = try StorageLayout.decodeEvent(cursor.value)
            if let previous = try history.previousKeyValue(of: [UInt8](event.kv.key), before: revision) {
                event.prevKv = previous
            }
            current?.events.append(event)
            cursor.next()
        }
        if let finished = current { batch.revisions.append(finished) }
        return batch
    }

    /// The store's revisions and size, for Status and for the event stream's heartbeats.
    public func status() -> Etcetera_Kv_StoreStatus {
        let view = committedView
        var status = Etcetera_Kv_StoreStatus()
        status.revision = view.revision
        status.compactRevision = view.compactRevision
        status.appliedIndex = view.appliedIndex
        status.keyCount = view.liveKeys
        status.quotaBackendBytes = configuration.quotaBackendBytes ?? 0
        let size = Int64(clamping: sizeOnDisk)
        status.dbSize = size
        status.dbSizeInUse = size
        status.alarms = activeAlarms
        return status
    }
}
