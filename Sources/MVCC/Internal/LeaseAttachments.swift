import Storage

/// Finds the keys of a lease through its `a` records (docs/storage.md). A record is a hint, the head is
/// the truth: a key counts only while its head still names the lease.
enum LeaseAttachments {
    static func keys(
        of id: Int64, in snapshot: any StorageSnapshot, heads: some HeadState, alsoChecking extra: Set<[UInt8]> = []
    ) throws(MVCCError) -> [[UInt8]] {
        let prefix = StorageLayout.attachmentPrefix(id)
        var candidates = extra
        let cursor = snapshot.makeCursor()
        cursor.seek(prefix)
        while cursor.isValid, cursor.key.starts(with: prefix) {
            candidates.insert(Array(cursor.key.dropFirst(prefix.count)))
            cursor.next()
        }
        do {
            try cursor.checkError()
        } catch {
            throw MVCCError(storage: error)
        }
        var attached: [[UInt8]] = []
        for key in candidates where try heads.head(key)?.lease == id { attached.append(key) }
        return attached.sorted { $0.lexicographicallyPrecedes($1) }
    }
}
