import Crypto
import Storage

/// Reads a snapshot's body front to back in large chunks, hashing every byte it loads when asked to.
struct BodyInput {
    private static let chunkSize = 1 << 20

    let file: SnapshotFile
    /// The body's length: the checksum after it is never read through this type.
    let end: UInt64
    /// Bytes consumed so far.
    private(set) var offset: UInt64 = 0
    private var buffer: [UInt8] = []
    private var position = 0
    private var loaded: UInt64 = 0
    private var hasher: SHA256?

    init(file: SnapshotFile, bodyLength: UInt64, hashing: Bool) {
        self.file = file
        end = bodyLength
        hasher = hashing ? SHA256() : nil
    }

    var remaining: UInt64 { end - offset }

    mutating func take(_ count: Int) throws(SnapshotError) -> [UInt8] {
        while buffer.count - position < count {
            guard loaded < end else {
                throw .malformed("\(file.path) ends inside a record at offset \(offset)")
            }
            buffer.removeFirst(position)
            position = 0
            buffer += try loadChunk()
        }
        let bytes = Array(buffer[position..<position + count])
        position += count
        offset += UInt64(count)
        return bytes
    }

    mutating func byte() throws(SnapshotError) -> UInt8 {
        try take(1)[0]
    }

    mutating func uint32() throws(SnapshotError) -> UInt32 {
        UInt32(truncatingIfNeeded: UInt64(bigEndianBytes: try take(4)[...]))
    }

    mutating func uint64() throws(SnapshotError) -> UInt64 {
        UInt64(bigEndianBytes: try take(8)[...])
    }

    /// A length-prefixed field that must fit in what is left of the body.
    mutating func field(_ name: String) throws(SnapshotError) -> [UInt8] {
        let start = offset
        guard remaining >= 4 else { throw .malformed("\(file.path): the record at offset \(start) runs past the end of the body") }
        let length = try uint32()
        guard UInt64(length) <= remaining else {
            throw .malformed("\(file.path): the \(name) of \(length) bytes at offset \(start) runs past the end of the body")
        }
        return try take(Int(length))
    }

    /// Loads and hashes the rest of the body, then returns the SHA-256 of all of it.
    mutating func finishHashing() throws(SnapshotError) -> [UInt8] {
        while loaded < end { _ = try loadChunk() }
        offset = end
        buffer = []
        position = 0
        return hasher.map { Array($0.finalize()) } ?? []
    }

    /// The next chunk of the body after what is loaded, hashed if hashing.
    private mutating func loadChunk() throws(SnapshotError) -> [UInt8] {
        let chunk = try file.read(at: loaded, count: Int(min(UInt64(Self.chunkSize), end - loaded)))
        guard !chunk.isEmpty else { throw .truncated("\(file.path) shrank while it was read") }
        hasher?.update(data: chunk)
        loaded += UInt64(chunk.count)
        return chunk
    }
}
