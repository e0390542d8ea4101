/// The layout of a snapshot file (docs/snapshot.md):
///
/// ```
/// body      magic "ETCSNAP1"
///           record*   01 | key length (u32 BE) | key | value length (u32 BE) | value
///           trailer   02 | revision (i64 BE) | compact revision (i64 BE) | live keys (u64 BE) | records (u64 BE)
///           zero padding up to a multiple of 512 bytes
/// checksum  SHA-256 of the body (32 bytes)
/// ```
///
/// Records are the storage engine's key-value pairs in ascending key order. The body's length is a
/// multiple of 512, so a whole file is 32 bytes over one: the test `etcdctl snapshot restore` applies
/// to tell a file that ends with its checksum.
public enum SnapshotFormat {
    public static let magic: [UInt8] = Array("ETCSNAP1".utf8)
    /// The body's length is a multiple of this.
    public static let blockSize = 512
    /// Bytes of the SHA-256 checksum that ends the file.
    public static let checksumSize = 32

    static let recordTag: UInt8 = 0x01
    static let trailerTag: UInt8 = 0x02
    /// Tag, revision, compact revision, live keys, records.
    static let trailerSize = 1 + 4 * 8
    /// The smallest valid file: magic, trailer, padding to one block, checksum.
    static let minimumFileSize = UInt64(blockSize + checksumSize)

    /// Zero bytes that bring a body of `length` bytes to a multiple of ``blockSize``.
    static func paddingLength(afterBody length: UInt64) -> Int {
        let remainder = Int(length % UInt64(blockSize))
        return remainder == 0 ? 0 : blockSize - remainder
    }

    /// The bytes of the part that starts at `offset` in a file of `totalBytes`, for reading a snapshot
    /// part by part: at most `maximumLength` bytes of the body, never reaching into the checksum, and
    /// at the end of the body exactly the checksum. Nil when `offset` is past the body's end.
    public static func partRange(at offset: UInt64, totalBytes: UInt64, maximumLength: UInt64) -> Range<UInt64>? {
        let bodyEnd = totalBytes - UInt64(checksumSize)
        if offset == bodyEnd { return bodyEnd..<totalBytes }
        guard offset < bodyEnd else { return nil }
        return offset..<min(offset + maximumLength, bodyEnd)
    }
}
