import EtceteraAPI
import Foundation

/// What one branch of a txn writes — the keys it puts and the ranges it deletes, its nested txns'
/// included — found while checking etcd's rule that no key is written twice along one path: a put may
/// not repeat a put, nor fall in a range the branch deletes. etcd checks in request order, so which
/// deletes a put is checked against depends on where each sits:
///
/// - the puts of the i-th nested txn, against the deletes made directly by the branch and those of
///   the nested txns before it (a put repeated between a nested txn's two branches is allowed, as
///   only one of them runs);
/// - the branch's own puts, after every nested txn, against all of them.
///
/// Each delete therefore carries the position from which it counts (0 for the branch's own deletes,
/// i for those of the i-th nested txn) and each put the position before which a delete counts against
/// it. Keys are numbered once (`TxnKeys`); a branch sorts its puts and single-key deletes by number,
/// so a key put twice sits next to itself and each put meets its key's earliest delete in one walk;
/// range deletes cut the key space into segments, each marked with the earliest position of a range
/// covering it, and a put finds its segment by binary search: O(n log n) for n puts and deletes in
/// the branch however they are arranged, where comparing each put with each delete would cost n².
struct TxnWrites {
    /// The numbers (`TxnKeys`) of the keys the branch puts, ascending, each once.
    private(set) var puts: [Int] = []
    /// The numbers of the keys deleted one by one (deletes without a range end), ascending, each once.
    private(set) var deletedKeys: [Int] = []
    /// The ranges `[begin, end)` deleted; a reversed or empty one covers nothing.
    private(set) var deletedRanges: [(begin: [UInt8], end: [UInt8])] = []

    /// The writes of `operations`, one branch of a txn; throws `duplicateKey` where etcd does.
    init(branch operations: [Etcdserverpb_RequestOp], keys: inout TxnKeys) throws(MVCCError) {
        /// Each put, with the position before which a delete counts against it.
        var checks: [(key: Int, before: Int)] = []
        /// Each single-key delete and each range delete, with the position from which it counts.
        var keyDeletes: [(key: Int, from: Int)] = []
        var rangeDeletes: [(begin: [UInt8], end: [UInt8], from: Int)] = []
        var nestedCount = 0
        for operation in operations {
            switch operation.request {
            case .requestDeleteRange(let delete) where delete.rangeEnd.isEmpty:
                keyDeletes.append((keys.number(of: delete.key), 0))
            case .requestDeleteRange(let delete):
                rangeDeletes.append(([UInt8](delete.key), [UInt8](delete.rangeEnd), 0))
            case .requestTxn(let txn):
                nestedCount += 1
                let then = try TxnWrites(branch: txn.success, keys: &keys)
                let otherwise = try TxnWrites(branch: txn.failure, keys: &keys)
                // A key both branches put is one put: only one branch runs.
                for key in Self.union(then.puts, otherwise.puts) { checks.append((key, nestedCount)) }
                for key in then.deletedKeys { keyDeletes.append((key, nestedCount)) }
                for key in otherwise.deletedKeys { keyDeletes.append((key, nestedCount)) }
                for range in then.deletedRanges + otherwise.deletedRanges {
                    rangeDeletes.append((range.begin, range.end, nestedCount))
                }
            default:
                break
            }
        }
        for operation in operations {
            guard case .requestPut(let put) = operation.request else { continue }
            checks.append((keys.number(of: put.key), nestedCount + 1))
        }
        // Each list of puts above holds a key once, so a key met twice is put twice along one path.
        checks.sort { $0.key < $1.key }
        for index in checks.indices.dropFirst() where checks[index].key == checks[index - 1].key {
            throw .duplicateKey
        }
        // The earliest single-key delete of each key comes first among that key's.
        keyDeletes.sort { $0.key != $1.key ? $0.key < $1.key : $0.from < $1.from }
        var delete = 0
        for check in checks {
            while delete < keyDeletes.count, keyDeletes[delete].key < check.key { delete += 1 }
            if delete < keyDeletes.count, keyDeletes[delete].key == check.key, keyDeletes[delete].from < check.before {
                throw .duplicateKey
            }
        }
        if !checks.isEmpty, !rangeDeletes.isEmpty {
            let cover = RangeCover(rangeDeletes)
            if !cover.isEmpty {
                for check in checks {
                    if let from = cover.earliest(covering: keys.bytes(of: check.key)), from < check.before { throw .duplicateKey }
                }
            }
        }
        puts = checks.map(\.key)
        deletedKeys.reserveCapacity(keyDeletes.count)
        for entry in keyDeletes where deletedKeys.last != entry.key { deletedKeys.append(entry.key) }
        deletedRanges = rangeDeletes.map { ($0.begin, $0.end) }
    }

    /// The keys of two ascending lists of distinct keys, ascending, each once.
    private static func union(_ first: [Int], _ second: [Int]) -> [Int] {
        if second.isEmpty { return first }
        if first.isEmpty { return second }
        var merged: [Int] = []
        merged.reserveCapacity(first.count + second.count)
        var (i, j) = (0, 0)
        while i < first.count, j < second.count {
            if first[i] < second[j] {
                merged.append(first[i])
                i += 1
            } else if second[j] < first[i] {
                merged.append(second[j])
                j += 1
            } else {
                merged.append(first[i])
                i += 1
                j += 1
            }
        }
        merged.append(contentsOf: first[i...])
        merged.append(contentsOf: second[j...])
        return merged
    }
}

/// The keys one txn writes, each numbered the first time it is met, so that the checks at every
/// nesting level hash and compare small numbers rather than key bytes (the largest txn etcd's limits
/// allow has about 95,000 keys, each passing through four levels).
struct TxnKeys {
    /// A key's bytes, hashed in one pass over them (`Data` and arrays hash byte by byte).
    private struct Key: Hashable {
        let bytes: [UInt8]

        func hash(into hasher: inout Hasher) {
            bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
        }
    }

    private var numbers: [Key: Int] = [:]
    private var keys: [[UInt8]] = []

    mutating func number(of key: Data) -> Int {
        let bytes = Key(bytes: [UInt8](key))
        if let number = numbers[bytes] { return number }
        numbers[bytes] = keys.count
        keys.append(bytes.bytes)
        return keys.count - 1
    }

    func bytes(of number: Int) -> [UInt8] {
        keys[number]
    }
}

/// For any key, the earliest position among the ranges that cover it. The ranges' ends cut the key
/// space into segments; each segment is marked once, by the earliest range over it (ranges taken in
/// order of position, skipping marked segments).
private struct RangeCover {
    /// The ranges' beginnings and ends, sorted, without repeats: segment i is `[boundaries[i], boundaries[i + 1])`.
    private let boundaries: [[UInt8]]
    private let earliest: [Int?]

    init(_ ranges: [(begin: [UInt8], end: [UInt8], from: Int)]) {
        let covering = ranges.filter { Self.compare($0.begin, $0.end) < 0 }
        let sorted = (covering.map(\.begin) + covering.map(\.end)).sorted { Self.compare($0, $1) < 0 }
        var unique: [[UInt8]] = []
        unique.reserveCapacity(sorted.count)
        for boundary in sorted where unique.last.map({ Self.compare($0, boundary) != 0 }) ?? true {
            unique.append(boundary)
        }
        boundaries = unique
        var earliest = [Int?](repeating: nil, count: max(unique.count - 1, 0))
        // The first unmarked segment at or after each one (path-halving union-find); the last entry is a sentinel.
        var nextUnmarked = Array(0...earliest.count)
        func unmarked(from segment: Int) -> Int {
            var segment = segment
            while nextUnmarked[segment] != segment {
                nextUnmarked[segment] = nextUnmarked[nextUnmarked[segment]]
                segment = nextUnmarked[segment]
            }
            return segment
        }
        for range in covering.sorted(by: { $0.from < $1.from }) {
            let last = Self.firstIndex(after: range.end, in: unique) - 1
            var segment = unmarked(from: Self.firstIndex(after: range.begin, in: unique) - 1)
            while segment < last {
                earliest[segment] = range.from
                nextUnmarked[segment] = segment + 1
                segment = unmarked(from: segment + 1)
            }
        }
        self.earliest = earliest
    }

    /// Whether no range covers anything.
    var isEmpty: Bool { earliest.isEmpty }

    func earliest(covering key: [UInt8]) -> Int? {
        let segment = Self.firstIndex(after: key, in: boundaries) - 1
        guard segment >= 0, segment < earliest.count else { return nil }
        return earliest[segment]
    }

    /// The index of the first boundary greater than `key`.
    private static func firstIndex(after key: [UInt8], in boundaries: [[UInt8]]) -> Int {
        var low = 0
        var high = boundaries.count
        while low < high {
            let middle = (low + high) / 2
            if compare(boundaries[middle], key) <= 0 { low = middle + 1 } else { high = middle }
        }
        return low
    }

    private static func compare(_ lhs: [UInt8], _ rhs: [UInt8]) -> Int {
        let common = min(lhs.count, rhs.count)
        let order = lhs.withUnsafeBufferPointer { left in
            rhs.withUnsafeBufferPointer { right in common == 0 ? 0 : memcmp(left.baseAddress!, right.baseAddress!, common) }
        }
        if order != 0 { return Int(order) }
        return lhs.count - rhs.count
    }
}
