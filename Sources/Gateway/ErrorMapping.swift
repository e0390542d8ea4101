import Bus
import GRPCWire

/// The one place where internal failures become what etcd clients see: etcd's gRPC status code and
/// its exact message (clients such as clientv3 match on both).
enum ErrorMapping {
    /// Service error codes (see docs/bus.md) → etcd's status.
    private static let table: [String: (GRPCStatus.Code, String)] = [
        "request.empty_key": (.invalidArgument, "etcdserver: key is not provided"),
        "request.key_not_found": (.invalidArgument, "etcdserver: key not found"),
        "request.value_provided": (.invalidArgument, "etcdserver: value is provided"),
        "request.lease_provided": (.invalidArgument, "etcdserver: lease is provided"),
        "request.too_many_ops": (.invalidArgument, "etcdserver: too many operations in txn request"),
        "request.duplicate_key": (.invalidArgument, "etcdserver: duplicate key given in txn request"),
        "request.too_large": (.invalidArgument, "etcdserver: request is too large"),
        "mvcc.compacted": (.outOfRange, "etcdserver: mvcc: required revision has been compacted"),
        "mvcc.future_revision": (.outOfRange, "etcdserver: mvcc: required revision is a future revision"),
        "mvcc.no_space": (.resourceExhausted, "etcdserver: mvcc: database space exceeded"),
        "lease.not_found": (.notFound, "etcdserver: requested lease not found"),
        "lease.exists": (.failedPrecondition, "etcdserver: lease already exists"),
        "lease.ttl_too_large": (.outOfRange, "etcdserver: too large lease TTL"),
        "storage.corrupt": (.dataLoss, "etcdserver: corrupt cluster"),
        "cluster.bad_leader_transferee": (.failedPrecondition, "etcdserver: bad leader transferee"),
        "cluster.member_not_found": (.notFound, "etcdserver: member not found"),
        // etcd sends this one as Unknown: its error table has no status for it.
        "cluster.not_enough_started_members": (.unknown, "etcdserver: re-configuration failed due to not enough started members"),
        "cluster.member_not_learner": (.failedPrecondition, "etcdserver: can only promote a learner member"),
        "cluster.peer_urls_exist": (.failedPrecondition, "etcdserver: Peer URLs already exists"),
        "cluster.bad_urls": (.invalidArgument, "etcdserver: given member URLs are invalid"),
    ]

    static func status(code: String, detail: String) -> GRPCStatus {
        if let (statusCode, message) = table[code] {
            return GRPCStatus(code: statusCode, message: message)
        }
        switch code {
        case "cluster.replication_unavailable":
            return GRPCStatus(
                code: .unimplemented,
                message: "etcetera: \(detail) needs replication, which Etcetera does not have yet (it runs a single member)")
        case "snapshot.not_found":
            // The snapshot was discarded while the client read it (it stopped reading for a minute).
            return GRPCStatus(code: .aborted, message: "etcetera: snapshot discarded before it was read to the end")
        default:
            break
        }
        return GRPCStatus(code: .internalError, message: "etcetera: \(code)\(detail.isEmpty ? "" : ": " + detail)")
    }

    /// A backend that is down, unreachable or too slow is `Unavailable`, the one code clients retry on.
    static func status(_ error: BusError) -> GRPCStatus {
        if error == .deadlineExceeded {
            return GRPCStatus(code: .unavailable, message: "etcdserver: request timed out")
        }
        return GRPCStatus(code: .unavailable, message: "etcdserver: no leader")
    }

    static let requestTooLarge = status(code: "request.too_large", detail: "")
}
