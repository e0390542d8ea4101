import Storage

/// A point in the store's history: `main` is the revision a write request committed at, `sub` orders
/// the changes inside that request (a txn with three puts has subs 0, 1, 2).
public struct Revision: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var main: Int64
    public var sub: Int64

    public init(main: Int64, sub: Int64 = 0) {
        self.main = main
        self.sub = sub
    }

    public static func < (lhs: Revision, rhs: Revision) -> Bool {
        (lhs.main, lhs.sub) < (rhs.main, rhs.sub)
    }

    public var description: String { "\(main).\(sub)" }

    /// 16 bytes, big-endian main then sub, so byte order equals revision order in storage.
    var encoded: [UInt8] {
        var bytes = [UInt8]()
        bytes.reserveCapacity(16)
        bytes.appendBigEndian(UInt64(bitPattern: main))
        bytes.appendBigEndian(UInt64(bitPattern: sub))
        return bytes
    }

    init?(encoded bytes: ArraySlice<UInt8>) {
        guard bytes.count == 16 else { return nil }
        main = Int64(bitPattern: UInt64(bigEndianBytes: bytes.prefix(8)))
        sub = Int64(bitPattern: UInt64(bigEndianBytes: bytes.suffix(8)))
    }
}
