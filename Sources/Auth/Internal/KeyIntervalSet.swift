/// A bound of a key interval in etcd's "bytes affine" order: every key, then +∞. etcd writes +∞ as an empty
/// byte string, so a permission with an empty key starts at +∞ and covers nothing.
enum KeyBound: Comparable, Sendable, Hashable {
    case key([UInt8])
    case infinity

    /// etcd's reading of a stored byte string: empty means +∞.
    init(affine bytes: [UInt8]) {
        self = bytes.isEmpty ? .infinity : .key(bytes)
    }

    static func < (lhs: KeyBound, rhs: KeyBound) -> Bool {
        switch (lhs, rhs) {
        case (.key(let left), .key(let right)): left.lexicographicallyPrecedes(right)
        case (.key, .infinity): true
        case (.infinity, _): false
        }
    }
}

/// The half-open interval `[begin, end)`.
struct KeyInterval: Sendable, Hashable {
    var begin: KeyBound
    var end: KeyBound

    /// The keys a permission or request names, as etcd's permission cache reads `key` / `range_end`: an empty
    /// end is the single key (`[key, key + "\0")`), `"\0"` is open-ended, anything else the range itself.
    init(key: [UInt8], rangeEnd: [UInt8]) {
        begin = KeyBound(affine: key)
        if rangeEnd.isEmpty {
            end = KeyBound(affine: key + [0])
        } else if rangeEnd == [0] {
            end = .infinity
        } else {
            end = .key(rangeEnd)
        }
    }

    var isEmpty: Bool { begin >= end }
}

/// A union of key intervals, kept as sorted, disjoint, non-adjacent intervals so that a point or range
/// lookup is a binary search. Answers as etcd's interval tree does (`Intersects` for a key, `Contains` for a
/// range: covered in full, with no gap).
struct KeyIntervalSet: Sendable, Hashable {
    private var merged: [KeyInterval] = []

    init<Intervals: Sequence>(_ intervals: Intervals) where Intervals.Element == KeyInterval {
        // Empty intervals (begin at or after end) never match in etcd's tree either.
        let sorted = intervals.filter { !$0.isEmpty }.sorted { $0.begin < $1.begin }
        for interval in sorted {
            if let last = merged.last, interval.begin <= last.end {
                if interval.end > last.end { merged[merged.count - 1].end = interval.end }
            } else {
                merged.append(interval)
            }
        }
    }

    var isEmpty: Bool { merged.isEmpty }

    /// The merged intervals, sorted.
    var intervals: [KeyInterval] { merged }

    /// Whether some interval holds `key`.
    func contains(key: [UInt8]) -> Bool {
        guard let interval = lastStarting(atOrBefore: KeyBound(affine: key)) else { return false }
        return KeyBound(affine: key) < interval.end
    }

    /// Whether the union covers every key of `[begin, end)`. Like etcd, a range that is empty or inverted
    /// counts as covered when its begin is.
    func covers(_ range: KeyInterval) -> Bool {
        guard let interval = lastStarting(atOrBefore: range.begin), range.begin < interval.end else { return false }
        return range.end <= interval.end
    }

    /// The interval with the greatest begin `<= bound`.
    private func lastStarting(atOrBefore bound: KeyBound) -> KeyInterval? {
        var low = 0
        var high = merged.count
        while low < high {
            let middle = (low + high) / 2
            if merged[middle].begin <= bound { low = middle + 1 } else { high = middle }
        }
        return low == 0 ? nil : merged[low - 1]
    }
}
