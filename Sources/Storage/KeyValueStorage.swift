/// An ordered byte-string key-value store with atomic batches and point-in-time reads: the contract
/// the MVCC store needs from its engine. `LevelDBStorage` is the production engine and
/// `InMemoryStorage` the double for tests; both order keys bytewise.
public protocol KeyValueStorage: Sendable {
    /// Applies the batch atomically. With `sync`, returns only once the batch is on stable storage, so an
    /// acknowledged write survives a crash of the process or the machine. A write the engine cannot
    /// complete throws, or, for a store opened to serve from, ends the process (``FailStop``).
    func write(_ batch: WriteBatch, sync: Bool) throws(StorageError)

    /// A consistent view of the store as of now; later writes are invisible through it.
    func snapshot() -> any StorageSnapshot

    /// Estimated bytes on disk used by keys in `[start, end)`.
    func approximateSize(from start: [UInt8], to end: [UInt8]) -> UInt64

    /// Bytes the store occupies on disk now, write-ahead log included (etcd's "db size").
    var sizeOnDisk: UInt64 { get }

    /// Asks the engine to rewrite the key range so deleted entries stop taking space.
    func compact(from start: [UInt8]?, to end: [UInt8]?)

    /// Whether the file system holding the store has so little room left that writes adding data
    /// must be refused: the engine keeps what it needs to sync its log, compact and open again, so a
    /// full disk makes the store refuse puts instead of failing a sync (which would stop the service).
    var isNearlyFull: Bool { get }
}

extension KeyValueStorage {
    /// Storage that lives in memory never runs out of disk.
    public var isNearlyFull: Bool { false }
}

/// A frozen, consistent read view. Reads through one snapshot never observe a later write.
public protocol StorageSnapshot: Sendable {
    func get(_ key: [UInt8]) throws(StorageError) -> [UInt8]?
    /// A cursor over the snapshot's keys in ascending byte order, initially unpositioned.
    func makeCursor() -> any StorageCursor
}

/// A bidirectional cursor over a snapshot. Only valid while `isValid`.
public protocol StorageCursor {
    var isValid: Bool { get }
    /// Positions at the first key `>= key`.
    func seek(_ key: [UInt8])
    func seekToFirst()
    func seekToLast()
    func next()
    func previous()
    var key: [UInt8] { get }
    var value: [UInt8] { get }
    /// Reports an I/O or corruption error met while moving, if any.
    func checkError() throws(StorageError)
}

extension StorageCursor {
    /// Positions at the last key `< key`, or makes the cursor invalid if there is none.
    public func seekBefore(_ key: [UInt8]) {
        seek(key)
        if isValid {
            previous()
        } else {
            seekToLast()
        }
    }
}
