import Auth
import EtceteraAPI
import GRPCWire

/// What a call asks of its caller in keys, collected from its request (and every txn inside it) before
/// the `AuthGate` decides: the ranges it reads and writes, and the leases whose attached keys it needs a
/// permission on. etcd requires WRITE on every key already attached to a lease a put names or a revoke
/// ends (`checkLeasePuts`: whoever may not revoke a lease must not hang more keys on it), and READ on
/// every key a LeaseTimeToLive with keys would show (`checkLeaseTimeToLive`, etcd ≥ 3.4.26).
struct KeyRequirements {
    private var permissions: [Permission] = []
    private var leases: Set<LeaseKeys> = []
    /// What the call needs when it names no key at all (no range, and no key on its leases).
    private let baseline: AuthRequirement

    private struct LeaseKeys: Hashable {
        let lease: Int64
        let type: PermissionType
    }

    /// - Parameter baseline: what the call needs if it turns out to name no key: a valid token if one is
    ///   sent (the calls etcd puts through raft without a check of their own), or a known caller.
    init(baseline: AuthRequirement = .validTokenIfAny) {
        self.baseline = baseline
    }

    /// READ on what a Range, a compare or `prev_kv` reads, WRITE on what a Put or DeleteRange changes,
    /// every op of both branches of a txn whichever runs, nested txns too. etcd 3.4 leaves nested txns,
    /// and the `prev_kv` and lease of a put inside a txn, unchecked: holes not copied (docs/auth.md).
    mutating func add(_ operation: Etcdserverpb_RequestOp.OneOf_Request) {
        switch operation {
        case .requestRange(let range):
            permissions.append(Permission(.read, key: Array(range.key), rangeEnd: Array(range.rangeEnd)))
        case .requestPut(let put):
            permissions.append(Permission(.write, key: Array(put.key)))
            if put.prevKv { permissions.append(Permission(.read, key: Array(put.key))) }
            if put.lease != 0 { leases.insert(LeaseKeys(lease: put.lease, type: .write)) }
        case .requestDeleteRange(let delete):
            permissions.append(Permission(.write, key: Array(delete.key), rangeEnd: Array(delete.rangeEnd)))
            if delete.prevKv { permissions.append(Permission(.read, key: Array(delete.key), rangeEnd: Array(delete.rangeEnd))) }
        case .requestTxn(let txn):
            for compare in txn.compare { permissions.append(Permission(.read, key: Array(compare.key), rangeEnd: Array(compare.rangeEnd))) }
            for operation in txn.success + txn.failure {
                if let request = operation.request { add(request) }
            }
        }
    }

    /// Adds `type` on every key attached to `lease` when the call is decided.
    mutating func addKeys(of lease: Int64, needing type: PermissionType) {
        leases.insert(LeaseKeys(lease: lease, type: type))
    }

    /// The requirement: known at once when no lease is involved (the common case), otherwise once the
    /// kv store has said which keys the leases hold now; what the request names itself is decided first.
    func requirement(kv: ServiceBackend) -> AuthGate.PendingRequirement {
        let known = Self.requirement(permissions, baseline: baseline)
        guard !leases.isEmpty else { return .known(known) }
        return .lookup(floor: known) { permits in await resolved(kv: kv, permits: permits) }
    }

    /// The requirement with the keys the leases hold now, or the status of a kv store that did not say.
    /// Asks lease by lease and stops at the first lease after which `permits` refuses what is needed so
    /// far: more keys cannot make it allowed, so a refused caller costs no more lookups.
    func resolved(kv: ServiceBackend, permits: (AuthRequirement) -> Bool) async -> Result<AuthRequirement, GRPCStatus> {
        var permissions = self.permissions
        for lease in leases.sorted(by: { ($0.lease, $0.type.rawValue) < ($1.lease, $1.type.rawValue) }) {
            do {
                for key in try await kv.attachedKeys(of: lease.lease) { permissions.append(Permission(lease.type, key: key)) }
            } catch {
                return .failure(error)
            }
            let needed = Self.requirement(permissions, baseline: baseline)
            if !permits(needed) { return .success(needed) }
        }
        return .success(Self.requirement(permissions, baseline: baseline))
    }

    private static func requirement(_ permissions: [Permission], baseline: AuthRequirement) -> AuthRequirement {
        permissions.isEmpty ? baseline : .keys(permissions)
    }
}
