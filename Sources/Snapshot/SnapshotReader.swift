/// A verified snapshot file (``SnapshotFormat``): opening it checks the magic, the size, the
/// checksum, the records' structure and key order, the trailer and the padding, so a truncated or
/// corrupted file is refused before anything is read out of it.
public struct SnapshotReader: Sendable {
    public let path: String
    /// The trailer's numbers and the file's size and checksum.
    public let summary: SnapshotSummary

    /// Opens and verifies the snapshot at `path`, reading it once from end to end.
    public init(path: String) throws(SnapshotError) {
        self.path = path
        summary = try Self.verify(try SnapshotFile.openForReading(path))
    }

    /// The records in file order (ascending keys), read afresh from the file.
    public func records() throws(SnapshotError) -> Records {
        let file = try SnapshotFile.openForReading(path)
        var input = BodyInput(file: file, bodyLength: summary.totalBytes - UInt64(SnapshotFormat.checksumSize), hashing: false)
        _ = try input.take(SnapshotFormat.magic.count)
        return Records(input: input)
    }

    /// Iterates a snapshot's records; `next()` returns nil at the trailer.
    public struct Records {
        private var input: BodyInput

        init(input: BodyInput) {
            self.input = input
        }

        public mutating func next() throws(SnapshotError) -> (key: [UInt8], value: [UInt8])? {
            guard input.remaining > 0 else { throw .malformed("\(input.file.path) has no trailer") }
            switch try input.byte() {
            case SnapshotFormat.recordTag:
                return (try input.field("key"), try input.field("value"))
            case SnapshotFormat.trailerTag:
                return nil
            case let tag:
                throw .malformed("\(input.file.path): unknown tag \(tag) at offset \(input.offset - 1)")
            }
        }
    }

    /// The bytes of `range` of the file at `path`, which must hold them all.
    public static func bytes(of path: String, in range: Range<UInt64>) throws(SnapshotError) -> [UInt8] {
        let bytes = try SnapshotFile.openForReading(path).read(at: range.lowerBound, count: range.count)
        guard bytes.count == range.count else { throw .truncated("\(path) ends before offset \(range.upperBound)") }
        return bytes
    }

    private static func verify(_ file: SnapshotFile) throws(SnapshotError) -> SnapshotSummary {
        let path = file.path
        let size = try file.size()
        let magic = try file.read(at: 0, count: SnapshotFormat.magic.count)
        guard magic.count == SnapshotFormat.magic.count else {
            throw .truncated("\(path) is \(size) bytes, too short for a snapshot's header")
        }
        guard magic == SnapshotFormat.magic else {
            throw .wrongMagic("\(path) does not start with \"ETCSNAP1\"")
        }
        let checksumSize = UInt64(SnapshotFormat.checksumSize)
        guard size >= SnapshotFormat.minimumFileSize, (size - checksumSize) % UInt64(SnapshotFormat.blockSize) == 0 else {
            throw .truncated(
                "\(path) is \(size) bytes; a complete snapshot is a multiple of \(SnapshotFormat.blockSize) bytes plus its \(checksumSize)-byte checksum")
        }
        let stored = try file.read(at: size - checksumSize, count: SnapshotFormat.checksumSize)
        var input = BodyInput(file: file, bodyLength: size - checksumSize, hashing: true)
        let parsed: Result<SnapshotSummary, SnapshotError>
        do {
            parsed = .success(try parseBody(&input))
        } catch {
            parsed = .failure(error)
        }
        // A damaged body is reported as such, not as whatever the damage made the parser trip on.
        guard try input.finishHashing() == stored else {
            throw .checksumMismatch("the SHA-256 of \(path)'s body differs from the checksum at its end")
        }
        var summary = try parsed.get()
        summary.totalBytes = size
        summary.checksum = stored
        return summary
    }

    private static func parseBody(_ input: inout BodyInput) throws(SnapshotError) -> SnapshotSummary {
        let path = input.file.path
        _ = try input.take(SnapshotFormat.magic.count)
        var records: UInt64 = 0
        var previousKey: [UInt8]?
        while input.remaining > 0 {
            let start = input.offset
            switch try input.byte() {
            case SnapshotFormat.recordTag:
                let key = try input.field("key")
                _ = try input.field("value")
                if let previousKey, !previousKey.lexicographicallyPrecedes(key) {
                    throw .malformed("\(path): the record at offset \(start) is out of key order")
                }
                previousKey = key
                records += 1
            case SnapshotFormat.trailerTag:
                guard input.remaining >= UInt64(SnapshotFormat.trailerSize - 1) else {
                    throw .malformed("\(path): the trailer at offset \(start) runs past the end of the body")
                }
                let revision = Int64(bitPattern: try input.uint64())
                let compactRevision = Int64(bitPattern: try input.uint64())
                let keyCount = try input.uint64()
                let recordCount = try input.uint64()
                guard recordCount == records else {
                    throw .malformed("\(path): the trailer counts \(recordCount) records, the body holds \(records)")
                }
                guard input.remaining == UInt64(SnapshotFormat.paddingLength(afterBody: input.offset)),
                      try input.take(Int(input.remaining)).allSatisfy({ $0 == 0 })
                else {
                    throw .malformed("\(path): the bytes after the trailer are not the zero padding")
                }
                return SnapshotSummary(
                    revision: revision, compactRevision: compactRevision, keyCount: keyCount,
                    recordCount: recordCount, totalBytes: 0, checksum: [])
            case let tag:
                throw .malformed("\(path): unknown tag \(tag) at offset \(start)")
            }
        }
        throw .malformed("\(path) has no trailer")
    }
}
