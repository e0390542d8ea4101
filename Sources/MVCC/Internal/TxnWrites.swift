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
/// it. One sweep over the keys in order answers every put at once: O(n log n) for n puts and deletes
/// in the branch, however they are arranged, where comparing each put with each delete would cost n².
struct TxnWrites {
    private(set) var puts: Set<[UInt8]> = []
    /// Half-open byte intervals `[begin, end)`: a delete's range, or its single key.
    private(set) var deletes: [(begin: [UInt8], end: [UInt8])] = []

    /// The writes of `operations`, one branch of a txn; throws `duplicateKey` where etcd does.
    init(branch operations: [Etcdserverpb_RequestOp]) throws(MVCCError) {
        var deletes: [(begin: [UInt8], end: [UInt8], from: Int)] = []
        for operation in operations {
            guard case .requestDeleteRange(let delete) = operation.request else { continue }
            let begin = [UInt8](delete.key)
            deletes.append((begin, delete.rangeEnd.isEmpty ? begin + [0] : [UInt8](delete.rangeEnd), 0))
        }
        var checks: [(key: [UInt8], before: Int)] = []
        var nestedCount = 0
        for operation in operations {
            guard case .requestTxn(let txn) = operation.request else { continue }
            nestedCount += 1
            let then = try TxnWrites(branch: txn.success)
            let otherwise = try TxnWrites(branch: txn.failure)
            for key in then.puts {
                if puts.contains(key) { throw .duplicateKey }
                checks.append((key, nestedCount))
            }
            for key in otherwise.puts where !then.puts.contains(key) {
                if puts.contains(key) { throw .duplicateKey }
                checks.append((key, nestedCount))
            }
            puts.formUnion(then.puts)
            puts.formUnion(otherwise.puts)
            for delete in then.deletes + otherwise.deletes {
                deletes.append((delete.begin, delete.end, nestedCount))
            }
        }
        for operation in operations {
            guard case .requestPut(let put) = operation.request else { continue }
            let key = [UInt8](put.key)
            if !puts.insert(key).inserted { throw .duplicateKey }
            checks.append((key, nestedCount + 1))
        }
        if !deletes.isEmpty, !checks.isEmpty {
            try Self.checkNoneDeleted(checks, deletes: deletes, positions: nestedCount + 1)
        }
        self.deletes = deletes.map { ($0.begin, $0.end) }
    }

    /// Walks keys and interval ends in byte order, counting the deletes that cover the current key by
    /// the position they count from; a put is refused when one counting before its own position covers it.
    private static func checkNoneDeleted(
        _ checks: [(key: [UInt8], before: Int)], deletes: [(begin: [UInt8], end: [UInt8], from: Int)], positions: Int
    ) throws(MVCCError) {
        enum Step: Int { case close = 0, open = 1, check = 2 }
        var steps: [(key: [UInt8], step: Step, position: Int)] = []
        steps.reserveCapacity(2 * deletes.count + checks.count)
        for delete in deletes where compare(delete.begin, delete.end) < 0 {
            steps.append((delete.begin, .open, delete.from))
            steps.append((delete.end, .close, delete.from))
        }
        for check in checks { steps.append((check.key, .check, check.before)) }
        // At one key, intervals ending there close before a put there is checked (ends are exclusive)
        // and intervals starting there open before it (beginnings are inclusive).
        steps.sort { lhs, rhs in
            let order = compare(lhs.key, rhs.key)
            return order != 0 ? order < 0 : lhs.step.rawValue < rhs.step.rawValue
        }
        var covering = PositionCounts(positions: positions)
        for step in steps {
            switch step.step {
            case .open: covering.add(1, at: step.position)
            case .close: covering.add(-1, at: step.position)
            case .check: if covering.any(before: step.position) { throw .duplicateKey }
            }
        }
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

/// How many intervals are open at each position, with the count below any position in O(log n)
/// (a Fenwick tree).
private struct PositionCounts {
    private var tree: [Int]

    init(positions: Int) {
        tree = Array(repeating: 0, count: positions + 1)
    }

    mutating func add(_ delta: Int, at position: Int) {
        var index = position + 1
        while index < tree.count {
            tree[index] += delta
            index += index & -index
        }
    }

    /// Whether any interval is open at a position below `position`.
    func any(before position: Int) -> Bool {
        var index = min(position, tree.count - 1)
        var total = 0
        while index > 0 {
            total += tree[index]
            index -= index & -index
        }
        return total > 0
    }
}
