import Auth
import EtceteraAPI

/// What a key call asks of its caller, collected from its request (and every txn inside it) before the
/// `AuthGate` decides: the ranges it reads and writes, and the leases it attaches keys to or revokes.
/// etcd requires WRITE on every key already attached to such a lease (`checkLeasePuts`): whoever may not
/// revoke a lease must not hang more keys on it.
struct KeyRequirements {
    private var ranges: [(key: [UInt8], rangeEnd: [UInt8], PermissionType)] = []
    private var leases: Set<Int64> = []

    /// READ on what a Range, a compare or `prev_kv` reads, WRITE on what a Put or DeleteRange changes,
    /// every op of both branches of a txn whichever runs, nested txns too. etcd 3.4 leaves nested txns,
    /// and the `prev_kv` and lease of a put inside a txn, unchecked: holes not copied (docs/auth.md).
    mutating func add(_ operation: Etcdserverpb_RequestOp.OneOf_Request) {
        switch operation {
        case .requestRange(let range):
            ranges.append((Array(range.key), Array(range.rangeEnd), .read))
        case .requestPut(let put):
            ranges.append((Array(put.key), [], .write))
            if put.prevKv { ranges.append((Array(put.key), [], .read)) }
            if put.lease != 0 { leases.insert(put.lease) }
        case .requestDeleteRange(let delete):
            ranges.append((Array(delete.key), Array(delete.rangeEnd), .write))
            if delete.prevKv { ranges.append((Array(delete.key), Array(delete.rangeEnd), .read)) }
        case .requestTxn(let txn):
            for compare in txn.compare { ranges.append((Array(compare.key), Array(compare.rangeEnd), .read)) }
            for operation in txn.success + txn.failure {
                if let request = operation.request { add(request) }
            }
        }
    }

    /// Adds WRITE on every key attached to `lease` (LeaseRevoke).
    mutating func addKeys(of lease: Int64) {
        leases.insert(lease)
    }

    /// The requirement: known at once when no lease is involved (the common case), otherwise once the
    /// kv store has said which keys the leases hold now.
    func requirement(kv: ServiceBackend) -> AuthGate.PendingRequirement {
        guard !leases.isEmpty else { return .known(Self.requirement(ranges)) }
        return .lookup { await lookUpLeaseKeys(kv: kv) }
    }

    /// With no range at all (a revoke of a lease without keys) etcd asks nothing but that a token, if
    /// sent, be valid.
    private static func requirement(_ ranges: [(key: [UInt8], rangeEnd: [UInt8], PermissionType)]) -> AuthGate.Requirement {
        ranges.isEmpty ? .validTokenIfAny : .keys(ranges)
    }

    private func lookUpLeaseKeys(kv: ServiceBackend) async -> AuthGate.Requirement {
        var ranges = self.ranges
        for lease in leases.sorted() {
            do {
                for key in try await kv.attachedKeys(of: lease) { ranges.append((key, [], .write)) }
            } catch {
                return .undetermined(error)
            }
        }
        return Self.requirement(ranges)
    }
}
