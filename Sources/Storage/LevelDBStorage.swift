import CLevelDB
import Foundation
import Synchronization

/// LevelDB through its C API. LevelDB is safe for concurrent use, and merges concurrent synced writes
/// into one log sync on its own; this type only owns the handles.
public final class LevelDBStorage: KeyValueStorage {
    /// What a write or sync that the engine could not complete does.
    public enum WriteFailure: Sendable {
        /// Ends the process (``FailStop``): for the stores services serve from, the default.
        case stopProcess
        /// Throws `StorageError.ioFailed`: for tools that build a store and remove it when that fails
        /// (`etcetera snapshot restore`).
        case throwError
    }

    public struct Configuration: Sendable {
        /// Memtable size; larger values mean fewer, larger level-0 files under write load.
        public var writeBufferSize: Int = 64 << 20
        /// Block cache for reads.
        public var blockCacheSize: Int = 128 << 20
        public var bloomFilterBitsPerKey: Int32 = 10
        public var maxOpenFiles: Int32 = 1000
        public var compression: Bool = true
        public var writeFailure: WriteFailure = .stopProcess
        /// Free bytes the file system must keep for the store to accept writes that add data: room
        /// for the memtable the log is replayed into at the next open (`writeBufferSize`) and for the
        /// output of a compaction.
        public var freeSpaceReserve: UInt64 = 128 << 20
        public init() {}
    }

    nonisolated(unsafe) private let db: OpaquePointer
    nonisolated(unsafe) private let options: OpaquePointer
    nonisolated(unsafe) private let cache: OpaquePointer
    nonisolated(unsafe) private let filterPolicy: OpaquePointer
    nonisolated(unsafe) private let syncWriteOptions: OpaquePointer
    nonisolated(unsafe) private let asyncWriteOptions: OpaquePointer
    private let writeFailure: WriteFailure
    private let freeSpaceReserve: UInt64
    /// The last free-space verdict and when it was reached (see ``isNearlyFull``).
    private let freeSpaceCheck = Mutex<(nearlyFull: Bool, at: ContinuousClock.Instant)?>(nil)
    public let path: String

    /// Opens (creating if missing) the database directory at `path`.
    public init(path: String, configuration: Configuration = .init()) throws(StorageError) {
        self.path = path
        writeFailure = configuration.writeFailure
        freeSpaceReserve = configuration.freeSpaceReserve
        options = leveldb_options_create()
        cache = leveldb_cache_create_lru(configuration.blockCacheSize)
        filterPolicy = leveldb_filterpolicy_create_bloom(configuration.bloomFilterBitsPerKey)
        leveldb_options_set_create_if_missing(options, 1)
        leveldb_options_set_paranoid_checks(options, 1)
        leveldb_options_set_write_buffer_size(options, configuration.writeBufferSize)
        leveldb_options_set_cache(options, cache)
        leveldb_options_set_filter_policy(options, filterPolicy)
        leveldb_options_set_max_open_files(options, configuration.maxOpenFiles)
        leveldb_options_set_compression(options, configuration.compression ? Int32(leveldb_snappy_compression) : Int32(leveldb_no_compression))
        syncWriteOptions = leveldb_writeoptions_create()
        leveldb_writeoptions_set_sync(syncWriteOptions, 1)
        asyncWriteOptions = leveldb_writeoptions_create()
        var error: UnsafeMutablePointer<CChar>? = nil
        let opened = leveldb_open(options, path, &error)
        if let message = Self.consume(error) {
            Self.release(options, cache, filterPolicy, syncWriteOptions, asyncWriteOptions)
            if message.contains("Corruption") { throw .corrupted(message) }
            throw .openFailed(message)
        }
        guard let opened else {
            Self.release(options, cache, filterPolicy, syncWriteOptions, asyncWriteOptions)
            throw .openFailed("leveldb_open returned no handle")
        }
        db = opened
    }

    deinit {
        leveldb_close(db)
        Self.release(options, cache, filterPolicy, syncWriteOptions, asyncWriteOptions)
    }

    public func write(_ batch: WriteBatch, sync: Bool) throws(StorageError) {
        let nativeBatch = leveldb_writebatch_create()
        defer { leveldb_writebatch_destroy(nativeBatch) }
        for operation in batch.operations {
            switch operation {
            case .put(let key, let value):
                key.withUnsafeBufferPointer { k in
                    value.withUnsafeBufferPointer { v in
                        k.withMemoryRebound(to: CChar.self) { kc in
                            v.withMemoryRebound(to: CChar.self) { vc in
                                leveldb_writebatch_put(nativeBatch, kc.baseAddress, kc.count, vc.baseAddress, vc.count)
                            }
                        }
                    }
                }
            case .delete(let key):
                key.withUnsafeBufferPointer { k in
                    k.withMemoryRebound(to: CChar.self) { kc in
                        leveldb_writebatch_delete(nativeBatch, kc.baseAddress, kc.count)
                    }
                }
            }
        }
        var error: UnsafeMutablePointer<CChar>? = nil
        leveldb_write(db, sync ? syncWriteOptions : asyncWriteOptions, nativeBatch, &error)
        guard let message = Self.consume(error) else { return }
        switch writeFailure {
        case .stopProcess: FailStop.stopProcess(after: .ioFailed(message), in: path)
        case .throwError: throw .ioFailed(message)
        }
    }

    public func snapshot() -> any StorageSnapshot {
        LevelDBSnapshot(storage: self)
    }

    public func approximateSize(from start: [UInt8], to end: [UInt8]) -> UInt64 {
        var size: UInt64 = 0
        start.withUnsafeBufferPointer { s in
            end.withUnsafeBufferPointer { e in
                s.withMemoryRebound(to: CChar.self) { sc in
                    e.withMemoryRebound(to: CChar.self) { ec in
                        var starts: [UnsafePointer<CChar>?] = [sc.baseAddress]
                        var startLengths = [sc.count]
                        var limits: [UnsafePointer<CChar>?] = [ec.baseAddress]
                        var limitLengths = [ec.count]
                        leveldb_approximate_sizes(db, 1, &starts, &startLengths, &limits, &limitLengths, &size)
                    }
                }
            }
        }
        return size
    }

    public var sizeOnDisk: UInt64 {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return files.reduce(0) { total, file in
            let attributes = try? FileManager.default.attributesOfItem(atPath: path + "/" + file)
            return total + ((attributes?[.size] as? NSNumber)?.uint64Value ?? 0)
        }
    }

    public func compact(from start: [UInt8]?, to end: [UInt8]?) {
        Self.withOptionalBytes(start) { s, sLength in
            Self.withOptionalBytes(end) { e, eLength in
                leveldb_compact_range(db, s, sLength, e, eLength)
            }
        }
    }

    /// Asks the file system at most every 100 ms: a write cannot fill the reserve in that time, and
    /// asking for every write would cost more than the write.
    public var isNearlyFull: Bool {
        freeSpaceCheck.withLock { check in
            let now = ContinuousClock.now
            if let check, now - check.at < .milliseconds(100) { return check.nearlyFull }
            var fileSystem = statvfs()
            let nearlyFull = statvfs(path, &fileSystem) == 0
                && UInt64(fileSystem.f_bavail) &* UInt64(fileSystem.f_frsize) < freeSpaceReserve
            check = (nearlyFull, now)
            return nearlyFull
        }
    }

    fileprivate var handle: OpaquePointer { db }

    private static func withOptionalBytes(_ bytes: [UInt8]?, _ body: (UnsafePointer<CChar>?, Int) -> Void) {
        guard let bytes else { return body(nil, 0) }
        bytes.withUnsafeBufferPointer { b in
            b.withMemoryRebound(to: CChar.self) { body($0.baseAddress, $0.count) }
        }
    }

    private static func consume(_ error: UnsafeMutablePointer<CChar>?) -> String? {
        guard let error else { return nil }
        defer { leveldb_free(error) }
        return String(cString: error)
    }

    private static func release(
        _ options: OpaquePointer, _ cache: OpaquePointer, _ filter: OpaquePointer,
        _ syncWrite: OpaquePointer, _ asyncWrite: OpaquePointer
    ) {
        leveldb_options_destroy(options)
        leveldb_cache_destroy(cache)
        leveldb_filterpolicy_destroy(filter)
        leveldb_writeoptions_destroy(syncWrite)
        leveldb_writeoptions_destroy(asyncWrite)
    }
}

/// A LevelDB snapshot plus the read options that pin reads to it; released with the last reference.
final class LevelDBSnapshot: StorageSnapshot {
    private let storage: LevelDBStorage
    nonisolated(unsafe) private let snapshot: OpaquePointer
    nonisolated(unsafe) private let readOptions: OpaquePointer

    init(storage: LevelDBStorage) {
        self.storage = storage
        snapshot = leveldb_create_snapshot(storage.handle)
        readOptions = leveldb_readoptions_create()
        leveldb_readoptions_set_snapshot(readOptions, snapshot)
        leveldb_readoptions_set_verify_checksums(readOptions, 1)
    }

    deinit {
        leveldb_readoptions_destroy(readOptions)
        leveldb_release_snapshot(storage.handle, snapshot)
    }

    func get(_ key: [UInt8]) throws(StorageError) -> [UInt8]? {
        var length = 0
        var error: UnsafeMutablePointer<CChar>? = nil
        let value = key.withUnsafeBufferPointer { k in
            k.withMemoryRebound(to: CChar.self) { kc in
                leveldb_get(storage.handle, readOptions, kc.baseAddress, kc.count, &length, &error)
            }
        }
        if let error {
            let message = String(cString: error)
            leveldb_free(error)
            throw message.contains("Corruption") ? .corrupted(message) : .ioFailed(message)
        }
        guard let value else { return nil }
        defer { leveldb_free(value) }
        return value.withMemoryRebound(to: UInt8.self, capacity: length) { Array(UnsafeBufferPointer(start: $0, count: length)) }
    }

    func makeCursor() -> any StorageCursor {
        LevelDBCursor(owner: self, iterator: leveldb_create_iterator(storage.handle, readOptions))
    }
}

/// Owns a LevelDB iterator; keeps its snapshot alive for as long as it exists.
final class LevelDBCursor: StorageCursor {
    private let owner: LevelDBSnapshot
    private let iterator: OpaquePointer

    init(owner: LevelDBSnapshot, iterator: OpaquePointer) {
        self.owner = owner
        self.iterator = iterator
    }

    deinit { leveldb_iter_destroy(iterator) }

    var isValid: Bool { leveldb_iter_valid(iterator) != 0 }

    func seek(_ key: [UInt8]) {
        key.withUnsafeBufferPointer { k in
            k.withMemoryRebound(to: CChar.self) { leveldb_iter_seek(iterator, $0.baseAddress, $0.count) }
        }
    }

    func seekToFirst() { leveldb_iter_seek_to_first(iterator) }
    func seekToLast() { leveldb_iter_seek_to_last(iterator) }
    func next() { leveldb_iter_next(iterator) }
    func previous() { leveldb_iter_prev(iterator) }

    var key: [UInt8] {
        var length = 0
        let pointer = leveldb_iter_key(iterator, &length)
        return Self.copy(pointer, length)
    }

    var value: [UInt8] {
        var length = 0
        let pointer = leveldb_iter_value(iterator, &length)
        return Self.copy(pointer, length)
    }

    func checkError() throws(StorageError) {
        var error: UnsafeMutablePointer<CChar>? = nil
        leveldb_iter_get_error(iterator, &error)
        if let error {
            let message = String(cString: error)
            leveldb_free(error)
            throw message.contains("Corruption") ? .corrupted(message) : .ioFailed(message)
        }
    }

    private static func copy(_ pointer: UnsafePointer<CChar>?, _ length: Int) -> [UInt8] {
        guard let pointer, length > 0 else { return [] }
        return pointer.withMemoryRebound(to: UInt8.self, capacity: length) { Array(UnsafeBufferPointer(start: $0, count: length)) }
    }
}
