import EtceteraAPI
import Foundation
import MVCC
import Testing

@Suite("MVCC request validation")
struct RequestValidationTests {
    @Test("a txn writes no key twice along a path, with etcd's order between nested txns", arguments: [
        // (success branch, refused as a duplicate)
        ([Op.put("a"), .put("a")], true),
        ([Op.put("a"), .put("b")], false),
        ([Op.delete("a", "c"), .put("b")], true),
        ([Op.put("b"), .delete("a", "c")], true),
        ([Op.delete("a", "c"), .put("c")], false),
        ([Op.delete("a"), .put("a")], true),
        ([Op.delete("a"), .put("a\0")], false),
        // A reversed range and a "\0" end cover nothing here, as in etcd's check.
        ([Op.delete("c", "a"), .put("b")], false),
        ([Op.delete("a", "\0"), .put("b")], false),
        // The two branches of a nested txn may put the same key; only one of them runs.
        ([Op.txn(then: [.put("a")], otherwise: [.put("a")])], false),
        ([Op.txn(then: [.put("a")], otherwise: []), .txn(then: [], otherwise: [.put("a")])], true),
        ([Op.put("a"), .txn(then: [.put("a")], otherwise: [])], true),
        // A nested txn's puts meet the deletes before it, not those after it…
        ([Op.txn(then: [.put("b")], otherwise: []), .txn(then: [.delete("a", "c")], otherwise: [])], false),
        ([Op.txn(then: [.delete("a", "c")], otherwise: []), .txn(then: [.put("b")], otherwise: [])], true),
        ([Op.delete("a", "c"), .txn(then: [.txn(then: [.put("b")], otherwise: [])], otherwise: [])], true),
        // …while the branch's own puts meet every delete, nested ones included.
        ([Op.put("b"), .txn(then: [], otherwise: [.delete("a", "c")])], true),
        // Overlapping ranges: the earliest one covering the key decides.
        ([Op.txn(then: [.put("d")], otherwise: []), .txn(then: [.delete("a", "m")], otherwise: []), .delete("c", "e")], true),
        ([Op.txn(then: [.put("n")], otherwise: []), .txn(then: [.delete("a", "z")], otherwise: []), .delete("c", "e")], false),
        ([Op.txn(then: [.delete("a")], otherwise: []), .txn(then: [.put("a")], otherwise: [])], true),
    ])
    func duplicateKeys(_ success: [Op], refused: Bool) throws {
        var txn = Etcdserverpb_TxnRequest()
        txn.success = success.map(\.request)
        if refused {
            #expect(throws: MVCCError.duplicateKey) { try RequestValidation.check(txn, maxOperations: 128) }
        } else {
            try RequestValidation.check(txn, maxOperations: 128)
        }
        // The failure branch is checked the same way, on its own.
        var swapped = Etcdserverpb_TxnRequest()
        swapped.failure = txn.success
        swapped.success = [Op.put("a").request, Op.put("b").request]
        if refused {
            #expect(throws: MVCCError.duplicateKey) { try RequestValidation.check(swapped, maxOperations: 128) }
        } else {
            try RequestValidation.check(swapped, maxOperations: 128)
        }
    }

    @Test("a txn of the largest size, nested ops all through, validates; one put in a deleted range is found")
    func largestTxn() throws {
        // 15 × 15 × 15 nested txns of 28 writes each, alternating puts and point deletes of distinct keys,
        // with a range delete beside each nested txn that covers none of them: about 95,000 writes.
        try RequestValidation.check(Self.largeTxn(conflicting: false), maxOperations: 128)
        // The same with one more put, in the last innermost txn, inside the range deleted beside that txn.
        #expect(throws: MVCCError.duplicateKey) {
            try RequestValidation.check(Self.largeTxn(conflicting: true), maxOperations: 128)
        }
    }

    /// The txn of `largestTxn`, under etcd's request size limit; with `conflicting`, one put collides.
    private static func largeTxn(conflicting: Bool) throws -> Etcdserverpb_TxnRequest {
        var serial = 0
        func level(_ depth: Int, last: Bool) -> Etcdserverpb_TxnRequest {
            var txn = Etcdserverpb_TxnRequest()
            if depth == 3 {
                txn.success = (0..<28).map { index in
                    serial += 1
                    return (index.isMultiple(of: 2) ? Op.put("k\(serial)") : .delete("d\(serial)")).request
                }
                if conflicting, last { txn.success.append(Op.put("zebra").request) }
            } else {
                txn.success = [Op.delete("z", "zz").request] + (0..<15).map { index in
                    var op = Etcdserverpb_RequestOp()
                    op.request = .requestTxn(level(depth + 1, last: last && index == 14))
                    return op
                }
            }
            return txn
        }
        let txn = level(0, last: true)
        let size = try txn.serializedBytes() as [UInt8]
        guard size.count > 1_000_000, size.count <= 1_572_864 else { throw MVCCError.corrupt("the txn is \(size.count) bytes") }
        return txn
    }

    @Test("an undefined sort target is refused, in a txn too; undefined orders and compares are not")
    func undefinedEnums() throws {
        var range = Etcdserverpb_RangeRequest()
        range.key = Data("a".utf8)
        range.sortTarget = .UNRECOGNIZED(5)
        #expect(throws: MVCCError.undefinedSortTarget) { try RequestValidation.check(range) }
        var txn = Etcdserverpb_TxnRequest()
        var op = Etcdserverpb_RequestOp()
        op.request = .requestRange(range)
        txn.failure = [op]
        #expect(throws: MVCCError.undefinedSortTarget) { try RequestValidation.check(txn, maxOperations: 128) }

        range.sortTarget = .key
        range.sortOrder = .UNRECOGNIZED(3)
        try RequestValidation.check(range)
        var compare = Etcdserverpb_Compare()
        compare.key = Data("a".utf8)
        compare.target = .UNRECOGNIZED(9)
        compare.result = .UNRECOGNIZED(9)
        txn = Etcdserverpb_TxnRequest()
        txn.compare = [compare]
        try RequestValidation.check(txn, maxOperations: 128)
    }

    @Test("a limit of Int64.max reads everything, as etcd's wrapped limit does")
    func largestLimit() async throws {
        let store = try MVCCStore.inMemory()
        for key in ["a", "b", "c"] { try await store.put(key, "v") }
        for limit in [Int64.max, .max - 1, -1, .min] {
            var range = Etcdserverpb_RangeRequest()
            range.key = Data("a".utf8)
            range.rangeEnd = Data("z".utf8)
            range.limit = limit
            let response = try store.range(range)
            #expect(response.kvs.count == 3, "limit \(limit)")
            #expect(!response.more)
            #expect(response.count == 3)
        }
    }

    /// One operation of a txn branch, written compactly.
    enum Op: Sendable, CustomStringConvertible {
        case put(String)
        case delete(String, String = "")
        indirect case txn(then: [Op], otherwise: [Op])

        var request: Etcdserverpb_RequestOp {
            var op = Etcdserverpb_RequestOp()
            switch self {
            case .put(let key):
                var put = Etcdserverpb_PutRequest()
                put.key = Data(key.utf8)
                op.request = .requestPut(put)
            case .delete(let key, let end):
                var delete = Etcdserverpb_DeleteRangeRequest()
                delete.key = Data(key.utf8)
                delete.rangeEnd = Data(end.utf8)
                op.request = .requestDeleteRange(delete)
            case .txn(let then, let otherwise):
                var txn = Etcdserverpb_TxnRequest()
                txn.success = then.map(\.request)
                txn.failure = otherwise.map(\.request)
                op.request = .requestTxn(txn)
            }
            return op
        }

        var description: String {
            switch self {
            case .put(let key): "put \(key.debugDescription)"
            case .delete(let key, let end): "delete \(key.debugDescription)…\(end.debugDescription)"
            case .txn(let then, let otherwise): "txn{\(then) else \(otherwise)}"
            }
        }
    }
}
