import EtceteraAPI
import Storage
import Synchronization

/// etcd's backend quota: a write whose cost would take the store past the limit is refused and raises
/// the NOSPACE alarm. The size on disk is measured once a second, or sooner once a sixteenth of the
/// limit has been admitted since the last measurement (listing the storage directory for every group
/// would cost more than the writes); between measurements it grows by the cost of what was
/// admitted, and it is measured again before a refusal. The store writes more bytes per put than
/// etcd's cost counts, so the early measurement is what keeps a small quota from being overshot.
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
            if now - gauge.measuredAt > .seconds(1) || gauge.admittedSince + cost >= limit / 16
                || gauge.measuredSize + gauge.admittedSince + cost >= limit {
                gauge = Gauge(measuredSize: Int64(clamping: storage.sizeOnDisk), measuredAt: now)
            }
            guard gauge.measuredSize + gauge.admittedSince + cost < limit else { return false }
            gauge.admittedSince += cost
            return true
        }
    }
}

extension WriteSession {
    /// etcd's quota cost of `request` at this point of the group. A lease the store does not know yet
    /// costs 64 bytes, as etcd's LeaseGrant does; registering a known lease again (the lease service
    /// does so at every start) is free, so a restart under NOSPACE loses no lease.
    func quotaCost(of request: WriteRequest) -> Int64 {
        guard case .registerLeases(let leases) = request else { return request.quotaCost }
        let new = leases.filter { $0.id != 0 && !((try? leaseExists($0.id)) ?? true) }
        return Int64(new.count) * 64
    }

    /// Whether `request` only registers leases the store already has. The lease service does that at
    /// every start and serves only once it got through, so it must pass under CORRUPT as well: the
    /// gateway opens the client port only when the lease service answers, and the operator needs the
    /// client port to inspect the store and disarm the alarm.
    func onlyRefreshesLeases(_ request: WriteRequest) -> Bool {
        guard case .registerLeases = request else { return false }
        return quotaCost(of: request) == 0
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
