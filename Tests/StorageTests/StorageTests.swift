import Foundation
import Storage
import Testing

@Suite("Storage engines")
struct StorageTests {
    static func engines() throws -> [any KeyValueStorage] {
        let path = NSTemporaryDirectory() + "etcetera-storage-" + UUID().uuidString
        return [InMemoryStorage(), try LevelDBStorage(path: path)]
    }

    @Test("batches apply atomically and snapshots do not see later writes")
    func batchesAndSnapshots() throws {
        for storage in try Self.engines() {
            var batch = WriteBatch()
            batch.put([1], [10])
            batch.put([2], [20])
            try storage.write(batch, sync: true)
            let before = storage.snapshot()
            var second = WriteBatch()
            second.delete([1])
            second.put([3], [30])
            try storage.write(second, sync: false)
            #expect(try before.get([1]) == [10])
            #expect(try before.get([3]) == nil)
            let after = storage.snapshot()
            #expect(try after.get([1]) == nil)
            #expect(try after.get([3]) == [30])
        }
    }

    @Test("cursors iterate in byte order both ways and seek to the first key at or after")
    func cursors() throws {
        for storage in try Self.engines() {
            var batch = WriteBatch()
            for key: [UInt8] in [[5], [1], [3, 0], [3], [0xFF]] { batch.put(key, key) }
            try storage.write(batch, sync: false)
            let cursor = storage.snapshot().makeCursor()
            cursor.seekToFirst()
            var forward: [[UInt8]] = []
            while cursor.isValid { forward.append(cursor.key); cursor.next() }
            #expect(forward == [[1], [3], [3, 0], [5], [0xFF]])
            cursor.seek([4])
            #expect(cursor.key == [5])
            cursor.previous()
            #expect(cursor.key == [3, 0])
            cursor.seekBefore([0xFF, 1])
            #expect(cursor.key == [0xFF])
            cursor.seekBefore([1])
            #expect(!cursor.isValid)
        }
    }

    @Test("LevelDB data survives reopening, and a second open of a locked store fails")
    func reopen() throws {
        let path = NSTemporaryDirectory() + "etcetera-storage-" + UUID().uuidString
        do {
            let storage = try LevelDBStorage(path: path)
            var batch = WriteBatch()
            batch.put(Array("key".utf8), Array("value".utf8))
            try storage.write(batch, sync: true)
            #expect(throws: StorageError.openFailed("")) { try LevelDBStorage(path: path) }
        }
        let reopened = try LevelDBStorage(path: path)
        #expect(try reopened.snapshot().get(Array("key".utf8)) == Array("value".utf8))
        #expect(reopened.sizeOnDisk > 0)
    }

    @Test("sizes grow with the data: on disk, and per key range once compacted into tables")
    func sizes() throws {
        let storage = try LevelDBStorage(path: NSTemporaryDirectory() + "etcetera-storage-" + UUID().uuidString)
        let empty = storage.sizeOnDisk
        var batch = WriteBatch()
        for index in 0..<2000 { batch.put(Array("key-\(index)".utf8), (0..<512).map { _ in UInt8.random(in: 0...255) }) }
        try storage.write(batch, sync: true)
        #expect(storage.sizeOnDisk > empty + 500_000)
        storage.compact(from: nil, to: nil)
        #expect(storage.approximateSize(from: Array("key-".utf8), to: Array("key.".utf8)) > 500_000)
        #expect(storage.approximateSize(from: Array("zzz".utf8), to: Array("zzzz".utf8)) == 0)
    }

    @Test("a store is nearly full when its file system has less free space than its reserve")
    func nearlyFull() throws {
        var roomy = LevelDBStorage.Configuration()
        roomy.freeSpaceReserve = 0
        #expect(!(try LevelDBStorage(path: NSTemporaryDirectory() + "etcetera-storage-" + UUID().uuidString, configuration: roomy).isNearlyFull))
        var greedy = LevelDBStorage.Configuration()
        greedy.freeSpaceReserve = .max
        #expect(try LevelDBStorage(path: NSTemporaryDirectory() + "etcetera-storage-" + UUID().uuidString, configuration: greedy).isNearlyFull)
        #expect(!InMemoryStorage().isNearlyFull)
    }
}
