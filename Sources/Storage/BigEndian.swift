/// Fixed-width integers in storage keys and values. Written big-endian, unsigned numbers sort in the
/// engine's byte order as they sort numerically, which ordered layouts (revisions, lease IDs) rely on.
extension Array where Element == UInt8 {
    @inlinable
    public mutating func appendBigEndian<Value: FixedWidthInteger & UnsignedInteger>(_ value: Value) {
        for shift in stride(from: Value.bitWidth - 8, through: 0, by: -8) {
            append(UInt8(truncatingIfNeeded: value >> shift))
        }
    }
}

extension UInt64 {
    /// The big-endian number in `bytes` (at most 8 of them).
    @inlinable
    public init(bigEndianBytes bytes: ArraySlice<UInt8>) {
        var value: UInt64 = 0
        for byte in bytes { value = value << 8 | UInt64(byte) }
        self = value
    }
}
