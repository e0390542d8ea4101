/// What a snapshot holds, from its trailer, and the file's size and checksum.
public struct SnapshotSummary: Sendable, Hashable {
    /// The store's revision when the snapshot was taken.
    public var revision: Int64
    /// The store's compaction point then (-1: never compacted).
    public var compactRevision: Int64
    /// Live keys: the store's `k` records (docs/storage.md).
    public var keyCount: UInt64
    /// Storage records in the file, of every kind.
    public var recordCount: UInt64
    /// The whole file, checksum included.
    public var totalBytes: UInt64
    /// The SHA-256 of the body, as stored in the file's last 32 bytes.
    public var checksum: [UInt8]

    public init(revision: Int64, compactRevision: Int64, keyCount: UInt64, recordCount: UInt64, totalBytes: UInt64, checksum: [UInt8]) {
        self.revision = revision
        self.compactRevision = compactRevision
        self.keyCount = keyCount
        self.recordCount = recordCount
        self.totalBytes = totalBytes
        self.checksum = checksum
    }

    /// The snapshot's hash as `snapshot status` prints it: the checksum's first 4 bytes, big-endian.
    public var hash: UInt32 {
        checksum.prefix(4).reduce(0) { $0 << 8 | UInt32($1) }
    }
}
