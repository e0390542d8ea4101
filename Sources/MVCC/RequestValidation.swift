import EtceteraAPI
import Foundation

/// The checks etcd makes on a request before it reaches the store: empty keys, contradictory put
/// flags, txn size, and txns that would write one key twice.
public enum RequestValidation {
    public static func check(_ request: Etcdserverpb_RangeRequest) throws(MVCCError) {
        if request.key.isEmpty { throw .emptyKey }
    }

    public static func check(_ request: Etcdserverpb_PutRequest) throws(MVCCError) {
        if request.key.isEmpty { throw .emptyKey }
        if request.ignoreValue, !request.value.isEmpty { throw .valueProvided }
        if request.ignoreLease, request.lease != 0 { throw .leaseProvided }
    }

    public static func check(_ request: Etcdserverpb_DeleteRangeRequest) throws(MVCCError) {
        if request.key.isEmpty { throw .emptyKey }
    }

    public static func check(_ request: Etcdserverpb_TxnRequest, maxOperations: Int) throws(MVCCError) {
        try checkStructure(request, maxOperations: maxOperations)
        _ = try writtenKeys(request.success)
        _ = try writtenKeys(request.failure)
    }

    private static func checkStructure(_ request: Etcdserverpb_TxnRequest, maxOperations: Int) throws(MVCCError) {
        let operations = max(request.compare.count, request.success.count, request.failure.count)
        if operations > maxOperations { throw .tooManyOperations }
        for compare in request.compare where compare.key.isEmpty { throw .emptyKey }
        for operation in request.success + request.failure {
            switch operation.request {
            case .requestRange(let range): try check(range)
            case .requestPut(let put): try check(put)
            case .requestDeleteRange(let delete): try check(delete)
            case .requestTxn(let txn): try checkStructure(txn, maxOperations: maxOperations - operations)
            case nil: throw .keyNotFound
            }
        }
    }

    /// A half-open byte interval as etcd's duplicate-key check sees a delete: `[key, range_end)`, or the
    /// single key when there is no end. A `"\0"` end gives an empty interval here, exactly as in etcd.
    private struct Interval {
        let begin: Data
        let end: Data

        init(key: Data, rangeEnd: Data) {
            begin = key
            end = rangeEnd.isEmpty ? key + [0] : rangeEnd
        }

        func contains(_ key: Data) -> Bool {
            !key.lexicographicallyPrecedes(begin) && key.lexicographicallyPrecedes(end)
        }
    }

    /// The keys a branch puts (with the deletes it makes), rejecting a branch whose puts collide with each
    /// other or with its deletes, including through nested txns.
    private static func writtenKeys(_ operations: [Etcdserverpb_RequestOp]) throws(MVCCError) -> (puts: Set<Data>, deletes: [Interval]) {
        var deletes: [Interval] = []
        for operation in operations {
            if case .requestDeleteRange(let delete) = operation.request {
                deletes.append(Interval(key: delete.key, rangeEnd: delete.rangeEnd))
            }
        }
        func deleted(_ key: Data, by intervals: [Interval]) -> Bool { intervals.contains { $0.contains(key) } }

        var puts = Set<Data>()
        for operation in operations {
            guard case .requestTxn(let txn) = operation.request else { continue }
            let then = try writtenKeys(txn.success)
            let otherwise = try writtenKeys(txn.failure)
            for key in then.puts {
                if puts.contains(key) || deleted(key, by: deletes) { throw .duplicateKey }
                puts.insert(key)
            }
            for key in otherwise.puts {
                if puts.contains(key), !then.puts.contains(key) { throw .duplicateKey }
                if deleted(key, by: deletes) { throw .duplicateKey }
                puts.insert(key)
            }
            deletes += then.deletes + otherwise.deletes
        }
        for operation in operations {
            guard case .requestPut(let put) = operation.request else { continue }
            if puts.contains(put.key) || deleted(put.key, by: deletes) { throw .duplicateKey }
            puts.insert(put.key)
        }
        return (puts, deletes)
    }
}
