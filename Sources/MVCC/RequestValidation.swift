import EtceteraAPI
import Foundation

/// The checks etcd makes on a request before it reaches the store: empty keys, contradictory put
/// flags, txn size, and txns that would write one key twice (see `TxnWrites`); and a sort target etcd
/// does not define, on which etcd panics. Every other number a request carries is valid at any value:
/// the store clamps or compares it as etcd does, without arithmetic that can trap.
public enum RequestValidation {
    public static func check(_ request: Etcdserverpb_RangeRequest) throws(MVCCError) {
        if request.key.isEmpty { throw .emptyKey }
        // etcd has no sort for a target it does not define and panics whenever it sorts by one (an unset
        // order becomes ascending for any target but the key); such a target is refused outright.
        if case .UNRECOGNIZED = request.sortTarget { throw .undefinedSortTarget }
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
        var keys = TxnKeys()
        _ = try TxnWrites(branch: request.success, keys: &keys)
        _ = try TxnWrites(branch: request.failure, keys: &keys)
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
}
