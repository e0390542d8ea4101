import Synchronization

/// A sorted in-memory store with the same contract as `LevelDBStorage`, for testing storage users
/// without a disk. Snapshots are copy-on-write copies of the sorted entries.
public final class InMemoryStorage: KeyValueStorage {
    private let entries = Mutex(SortedEntries())

    public init() {}

    public func write(_ batch: WriteBatch, sync: Bool) throws(StorageError) {
        entries.withLock { entries in
            for operation in batch.operations {
                switch operation {
                case .put(let key, let value): entries.set(key, value)
                case .delete(let key): entries.remove(key)
                }
            }
        }
    }

    public func snapshot() -> any StorageSnapshot {
        InMemorySnapshot(entries: entries.withLock { $0 })
    }

    public func approximateSize(from start: [UInt8], to end: [UInt8]) -> UInt64 {
        entries.withLock { entries in
            var size = 0
            var index = entries.lowerBound(start)
            while index < entries.keys.count, entries.keys[index].lexicographicallyPrecedes(end) {
                size += entries.keys[index].count + entries.values[index].count
                index += 1
            }
            return UInt64(size)
        }
    }

    public var sizeOnDisk: UInt64 {
        entries.withLock { entries in
            UInt64(zip(entries.keys, entries.values).reduce(0) { $0 + $1.0.count + $1.1.count })
        }
    }

    public func compact(from start: [UInt8]?, to end: [UInt8]?) {}
}

struct SortedEntries: Sendable {
    var keys: [[UInt8]] = []
    var values: [[UInt8]] = []

    /// Index of the first key `>= key`.
    func lowerBound(_ key: [UInt8]) -> Int {
        var low = 0
        var high = keys.count
        while low < high {
            let middle = (low + high) / 2
            if keys[middle].lexicographicallyPrecedes(key) { low = middle + 1 } else { high = middle }
        }
        return low
    }

    mutating func set(_ key: [UInt8], _ value: [UInt8]) {
        let index = lowerBound(key)
        if index < keys.count, keys[index] == key {
            values[index] = value
        } else {
            keys.insert(key, at: index)
            values.insert(value, at: index)
        }
    }

    mutating func remove(_ key: [UInt8]) {
        let index = lowerBound(key)
        if index < keys.count, keys[index] == key {
            keys.remove(at: index)
            values.remove(at: index)
        }
    }
}

final class InMemorySnapshot: StorageSnapshot {
    let entries: SortedEntries

    init(entries: SortedEntries) { self.entries = entries }

    func get(_ key: [UInt8]) throws(StorageError) -> [UInt8]? {
        let index = entries.lowerBound(key)
        guard index < entries.keys.count, entries.keys[index] == key else { return nil }
        return entries.values[index]
    }

    func makeCursor() -> any StorageCursor { InMemoryCursor(entries: entries) }
}

final class InMemoryCursor: StorageCursor {
    private let entries: SortedEntries
    private var index: Int

    init(entries: SortedEntries) {
        self.entries = entries
        index = entries.keys.count
    }

    var isValid: Bool { index >= 0 && index < entries.keys.count }
    func seek(_ key: [UInt8]) { index = entries.lowerBound(key) }
    func seekToFirst() { index = 0 }
    func seekToLast() { index = entries.keys.count - 1 }
    func next() { index += 1 }
    func previous() { index -= 1 }
    var key: [UInt8] { entries.keys[index] }
    var value: [UInt8] { entries.values[index] }
    func checkError() throws(StorageError) {}
}
