import EtceteraAPI
import Storage

/// The live keys as one request sees them: committed state for reads, committed state plus the
/// not-yet-synced writes of the current commit group for writes.
protocol HeadState {
    func head(_ key: [UInt8]) throws(MVCCError) -> Mvccpb_KeyValue?
    /// Live keys in `range`, ascending; at most `limit` of them when `limit > 0`; and how many there are.
    func heads(in range: KeyRange, limit: Int, countOnly: Bool) throws(MVCCError) -> (kvs: [Mvccpb_KeyValue], count: Int)
}

/// Committed live keys, read from one storage snapshot.
struct SnapshotHeads: HeadState {
    let snapshot: any StorageSnapshot

    func head(_ key: [UInt8]) throws(MVCCError) -> Mvccpb_KeyValue? {
        let stored: [UInt8]?
        do {
            stored = try snapshot.get(StorageLayout.headKey(key))
        } catch {
            throw MVCCError(storage: error)
        }
        guard let stored else { return nil }
        return try StorageLayout.decodeKeyValue(stored)
    }

    func heads(in range: KeyRange, limit: Int, countOnly: Bool) throws(MVCCError) -> (kvs: [Mvccpb_KeyValue], count: Int) {
        if case .single(let key) = range {
            guard let kv = try head(key) else { return ([], 0) }
            return (countOnly ? [] : [kv], 1)
        }
        let cursor = snapshot.makeCursor()
        let end: [UInt8]
        switch range {
        case .between(_, let rangeEnd): end = StorageLayout.headKey(rangeEnd)
        default: end = StorageLayout.headEnd
        }
        var kvs: [Mvccpb_KeyValue] = []
        var count = 0
        cursor.seek(StorageLayout.headKey(range.start))
        while cursor.isValid {
            let storageKey = cursor.key
            guard storageKey.lexicographicallyPrecedes(end) else { break }
            count += 1
            if !countOnly, limit <= 0 || kvs.count < limit {
                kvs.append(try StorageLayout.decodeKeyValue(cursor.value))
            }
            cursor.next()
        }
        do {
            try cursor.checkError()
        } catch {
            throw MVCCError(storage: error)
        }
        return (kvs, count)
    }
}

/// Committed live keys overlaid with the changes made earlier in the same commit group, so each write
/// sees the writes queued before it.
struct OverlayHeads: HeadState {
    let base: SnapshotHeads
    /// Keys changed in this group: the new value, or nil where the key was deleted.
    let overlay: [[UInt8]: Mvccpb_KeyValue?]

    func head(_ key: [UInt8]) throws(MVCCError) -> Mvccpb_KeyValue? {
        if let changed = overlay[key] { return changed }
        return try base.head(key)
    }

    func heads(in range: KeyRange, limit: Int, countOnly: Bool) throws(MVCCError) -> (kvs: [Mvccpb_KeyValue], count: Int) {
        let changedInRange = overlay.filter { range.contains($0.key) }
        if changedInRange.isEmpty {
            return try base.heads(in: range, limit: limit, countOnly: countOnly)
        }
        let committed = try base.heads(in: range, limit: 0, countOnly: false).kvs
        var merged: [[UInt8]: Mvccpb_KeyValue] = [:]
        for kv in committed { merged[[UInt8](kv.key)] = kv }
        for (key, change) in changedInRange { merged[key] = change }
        let ordered = merged.sorted { $0.key.lexicographicallyPrecedes($1.key) }.map(\.value)
        if countOnly { return ([], ordered.count) }
        let limited = limit > 0 ? Array(ordered.prefix(limit)) : ordered
        return (limited, ordered.count)
    }
}

extension MVCCError {
    init(storage error: StorageError) {
        self = error.isCorruption ? .corrupt(error.detail) : .storageFailure(error.detail)
    }
}
