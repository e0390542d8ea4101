import EtceteraAPI
import Storage

/// Reads the key history and the revision log of one storage snapshot.
struct HistoryReader {
    let snapshot: any StorageSnapshot

    /// The keys live at `revision` in `range`, ascending, at most `limit` when `limit > 0`, and their count.
    /// Jumps from key to key (three seeks each) instead of scanning every revision of every key.
    func kvs(in range: KeyRange, at revision: Int64, limit: Int, countOnly: Bool) throws(MVCCError) -> (kvs: [Mvccpb_KeyValue], count: Int) {
        let cursor = snapshot.makeCursor()
        var kvs: [Mvccpb_KeyValue] = []
        var count = 0
        cursor.seek(StorageLayout.historyKeyPrefix(range.start))
        while cursor.isValid {
            guard let (key, _) = StorageLayout.decodeHistoryKey(cursor.key), range.contains(key) else { break }
            cursor.seekBefore(StorageLayout.historyKey(key, Revision(main: revision + 1)))
            if cursor.isValid, let (foundKey, foundRevision) = StorageLayout.decodeHistoryKey(cursor.key),
               foundKey == key, foundRevision.main <= revision, cursor.value == StorageLayout.putMarker {
                count += 1
                if !countOnly, limit <= 0 || kvs.count < limit {
                    kvs.append(try keyValue(at: foundRevision))
                }
            }
            guard range.continues(after: key) else { break }
            cursor.seek(StorageLayout.escapedKey(key) + [0, 2])
        }
        do {
            try cursor.checkError()
        } catch {
            throw MVCCError(storage: error)
        }
        return (kvs, count)
    }

    /// The event committed at `revision`.
    func event(at revision: Revision) throws(MVCCError) -> Mvccpb_Event? {
        let stored: [UInt8]?
        do {
            stored = try snapshot.get(StorageLayout.revisionKey(revision))
        } catch {
            throw MVCCError(storage: error)
        }
        guard let stored else { return nil }
        return try StorageLayout.decodeEvent(stored)
    }

    func keyValue(at revision: Revision) throws(MVCCError) -> Mvccpb_KeyValue {
        guard let event = try event(at: revision) else {
            throw .corrupt("history names revision \(revision) but the revision log has no entry")
        }
        return event.kv
    }

    /// The value `key` had just before `revision`, if it was live then and that history is retained.
    func previousKeyValue(of key: [UInt8], before revision: Revision) throws(MVCCError) -> Mvccpb_KeyValue? {
        let cursor = snapshot.makeCursor()
        cursor.seekBefore(StorageLayout.historyKey(key, revision))
        guard cursor.isValid, let (foundKey, foundRevision) = StorageLayout.decodeHistoryKey(cursor.key),
              foundKey == key, cursor.value == StorageLayout.putMarker
        else { return nil }
        return try keyValue(at: foundRevision)
    }
}
