import Crypto
import Foundation
import Storage

/// Writes one snapshot file (``SnapshotFormat``): records in the order given (the caller reads them
/// from one storage snapshot, in key order), then the trailer, padding and checksum.
///
/// The file is written as `<path>.part` and renamed to `path` only once complete and synced, so a
/// file at `path` is always a whole snapshot; a writer dropped before ``finish(revision:compactRevision:keyCount:)``
/// removes its partial file.
public final class SnapshotWriter {
    private static let flushThreshold = 1 << 20

    public let path: String
    private let partialPath: String
    private var file: SnapshotFile?
    private var buffer: [UInt8] = []
    private var hasher = SHA256()
    private var bodyLength: UInt64 = 0
    private var recordCount: UInt64 = 0

    /// Creates the partial file. Fails if `path` or its partial file already exist.
    public init(path: String) throws(SnapshotError) {
        guard !FileManager.default.fileExists(atPath: path) else { throw .writeFailed("\(path) already exists") }
        self.path = path
        partialPath = path + ".part"
        file = try SnapshotFile.create(partialPath)
        buffer.reserveCapacity(Self.flushThreshold + 64)
        buffer += SnapshotFormat.magic
    }

    deinit {
        if file != nil { unlink(partialPath) }
    }

    /// Appends one storage record.
    public func append(key: [UInt8], value: [UInt8]) throws(SnapshotError) {
        guard key.count <= UInt32.max, value.count <= UInt32.max else {
            throw .writeFailed("a record of \(key.count + value.count) bytes does not fit the format")
        }
        buffer.append(SnapshotFormat.recordTag)
        buffer.appendBigEndian(UInt32(key.count))
        buffer += key
        buffer.appendBigEndian(UInt32(value.count))
        buffer += value
        recordCount += 1
        if buffer.count >= Self.flushThreshold { try flush() }
    }

    /// Writes the trailer, the padding and the checksum, syncs the file and moves it to `path`.
    /// - Parameters:
    ///   - revision: the store's revision in the records.
    ///   - compactRevision: its compaction point.
    ///   - keyCount: how many of the records are live keys.
    public func finish(revision: Int64, compactRevision: Int64, keyCount: UInt64) throws(SnapshotError) -> SnapshotSummary {
        guard let file else { throw .writeFailed("\(path) is already finished") }
        buffer.append(SnapshotFormat.trailerTag)
        buffer.appendBigEndian(UInt64(bitPattern: revision))
        buffer.appendBigEndian(UInt64(bitPattern: compactRevision))
        buffer.appendBigEndian(keyCount)
        buffer.appendBigEndian(recordCount)
        buffer += [UInt8](repeating: 0, count: SnapshotFormat.paddingLength(afterBody: bodyLength + UInt64(buffer.count)))
        try flush()
        let checksum = Array(hasher.finalize())
        try file.writeAll(checksum)
        try file.sync()
        guard rename(partialPath, path) == 0 else { throw .writeFailed("\(path): \(SnapshotFile.lastError())") }
        self.file = nil
        return SnapshotSummary(
            revision: revision, compactRevision: compactRevision, keyCount: keyCount, recordCount: recordCount,
            totalBytes: bodyLength + UInt64(checksum.count), checksum: checksum)
    }

    private func flush() throws(SnapshotError) {
        guard let file else { throw .writeFailed("\(path) is already finished") }
        try file.writeAll(buffer)
        hasher.update(data: buffer)
        bodyLength += UInt64(buffer.count)
        buffer.removeAll(keepingCapacity: true)
    }
}
