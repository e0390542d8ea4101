import EtceteraAPI
import Synchronization

/// What the kv service has served since it started, counted the way etcd's mvcc layer counts for
/// `etcd_mvcc_range_total`, `…_put_total`, `…_delete_total` and `…_txn_total`, so dashboards built
/// for etcd read the same numbers. The gateway fetches them with the store's status at scrape time.
final class OperationCounters: Sendable {
    private let ranges = Atomic<UInt64>(0)
    private let puts = Atomic<UInt64>(0)
    private let deletes = Atomic<UInt64>(0)
    private let txns = Atomic<UInt64>(0)

    /// Counts a Range, Put, DeleteRange or Txn the store served, with its reply; other requests and
    /// refused ones count nothing.
    func record(_ request: Etcetera_Kv_KVRequest.OneOf_Request?, _ reply: Etcetera_Kv_KVReply.OneOf_Reply?) {
        var tally = OperationTally()
        switch (request, reply) {
        case (.range(let range)?, .range(let response)?): tally.add(.requestRange(range), .responseRange(response))
        case (.put(let put)?, .put(let response)?): tally.add(.requestPut(put), .responsePut(response))
        case (.deleteRange(let delete)?, .deleteRange(let response)?):
            tally.add(.requestDeleteRange(delete), .responseDeleteRange(response))
        case (.txn(let txn)?, .txn(let response)?): tally.add(.requestTxn(txn), .responseTxn(response))
        default: return
        }
        ranges.add(tally.ranges, ordering: .relaxed)
        puts.add(tally.puts, ordering: .relaxed)
        deletes.add(tally.deletes, ordering: .relaxed)
        if tally.ranges + tally.puts + tally.deletes > 1 { txns.add(1, ordering: .relaxed) }
    }

    var current: Etcetera_Kv_OperationCounts {
        var counts = Etcetera_Kv_OperationCounts()
        counts.ranges = ranges.load(ordering: .relaxed)
        counts.puts = puts.load(ordering: .relaxed)
        counts.deletes = deletes.load(ordering: .relaxed)
        counts.txns = txns.load(ordering: .relaxed)
        return counts
    }
}

/// The reads and writes one request makes in etcd's mvcc layer: a put or delete that returns the
/// previous value (or keeps it) reads it first; a txn reads once per compare, then runs the branch
/// its compares chose, nested txns included. etcd counts a store transaction of more than one of
/// these as a txn, which is why a put with `prev_kv` counts as one.
struct OperationTally: Equatable {
    var ranges: UInt64 = 0
    var puts: UInt64 = 0
    var deletes: UInt64 = 0

    mutating func add(_ request: Etcdserverpb_RequestOp.OneOf_Request, _ response: Etcdserverpb_ResponseOp.OneOf_Response?) {
        switch request {
        case .requestRange:
            ranges += 1
        case .requestPut(let put):
            if put.prevKv || put.ignoreValue || put.ignoreLease { ranges += 1 }
            puts += 1
        case .requestDeleteRange(let delete):
            if delete.prevKv { ranges += 1 }
            deletes += 1
        case .requestTxn(let txn):
            ranges += UInt64(txn.compare.count)
            guard case .responseTxn(let outcome)? = response else { return }
            let branch = outcome.succeeded ? txn.success : txn.failure
            for (operation, result) in zip(branch, outcome.responses) {
                if let operation = operation.request { add(operation, result.response) }
            }
        }
    }
}
