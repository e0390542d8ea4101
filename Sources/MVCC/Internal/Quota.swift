import EtceteraAPI
import Storage
import Synchronization

/// etcd's backend quota: a write whose cost would take the store past the limit is refused and raises
/// the NOSPACE alarm. The size on disk is measured at most once a second while far from the limit
/// (listing the storage directory on every group would cost more than the writes); between
/// measurements it grows by the cost of what was admitted, and it is measured again before a refusal.
final class Quota: Sendable {
    private struct Gauge {
        var measuredSize: Int64
        var measuredAt: ContinuousClock.Instant
        var admittedSince: Int64 = 0
    }

    let limit: Int64
    private let storage: any KeyValueStorage
    private let gauge: Mutex<Gauge>

    init(limit: Int64, storage: any KeyValueStorage) {
        self.limit = limit
        self.storage = storage
        gauge = Mutex(Gauge(measuredSize: Int64(clamping: storage.sizeOnDisk), measuredAt: .now))
    }

    /// Whether a write of `cost` fits (etcd: size + cost < quota); admitted costs count towards the size
    /// until the next measurement.
    func admits(cost: Int64) -> Bool {
        gauge.withLock { gauge in
            let now = ContinuousClock.now
            if now - gauge.measuredAt > .seconds(1) || gauge.measuredSize + gauge.admittedSince + cost >= limit {
                gauge = Gauge(measuredSize: Int64(clamping: storage.sizeOnDisk), measuredAt: now)
            }
            guard gauge.measuredSize + gauge.admittedSince + cost < limit else { return false }
            gauge.admittedSince += cost
            return true
        }
    }
}

extension WriteRequest {
    /// etcd's quota cost: 256 bytes of overhead plus key and value for each put; for a txn the larger
    /// of its two branches' puts. Requests that only read or delete cost nothing and are never refused.
    var quotaCost: Int64 {
        switch self {
        case .put(let put): return Self.cost(of: put)
        case .txn(let txn):
            func puts(_ operations: [Etcdserverpb_RequestOp]) -> Int64 {
                operations.reduce(0) { total, operation in
                    if case .requestPut(let put) = operation.request { return total + Self.cost(of: put) }
                    return total
                }
            }
            return max(puts(txn.success), puts(txn.failure))
        case .deleteRange, .compact, .registerLeases, .revokeLease: return 0
        }
    }

    private static func cost(of put: Etcdserverpb_PutRequest) -> Int64 {
        Int64(256 + put.key.count + put.value.count)
    }
}
