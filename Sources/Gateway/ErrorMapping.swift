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
    ]

    static func status(code: String, detail: String) -> GRPCStatus {
        if let (statusCode, message) = table[code] {
            return GRPCStatus(code: statusCode, message: message)
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
