/// Server-chosen lease IDs, made as etcd makes them: the member's low 16 bits, then the start time in
/// milliseconds (40 bits), then a counter (8 bits) that carries into the time part. IDs are positive,
/// unique for the life of the process and, because the time part starts at the process's start,
/// unlikely to repeat one given out before a restart.
public struct LeaseIDGenerator: Sendable {
    private let prefix: UInt64
    private var suffix: UInt64

    public init(memberID: UInt64, startMilliseconds: UInt64) {
        prefix = (memberID & 0xFFFF) << 48
        suffix = (startMilliseconds & ((1 << 40) - 1)) << 8
    }

    public mutating func next() -> Int64 {
        suffix &+= 1
        let id = prefix | (suffix & ((1 << 48) - 1))
        return Int64(bitPattern: id & ((1 << 63) - 1))
    }
}
