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
        // etcd 3.4 panics on these two (docs/compatibility.md); Etcetera refuses them.
        "request.undefined_sort_target": (.invalidArgument, "etcetera: undefined sort target"),
        "request.undefined_alarm_action": (.invalidArgument, "etcetera: undefined alarm action"),
        "mvcc.compacted": (.outOfRange, "etcdserver: mvcc: required revision has been compacted"),
        "mvcc.future_revision": (.outOfRange, "etcdserver: mvcc: required revision is a future revision"),
        "mvcc.no_space": (.resourceExhausted, "etcdserver: mvcc: database space exceeded"),
        "request.too_many_requests": (.resourceExhausted, "etcdserver: too many requests"),
        "lease.not_found": (.notFound, "etcdserver: requested lease not found"),
        "lease.exists": (.failedPrecondition, "etcdserver: lease already exists"),
        "lease.ttl_too_large": (.outOfRange, "etcdserver: too large lease TTL"),
        "storage.corrupt": (.dataLoss, "etcdserver: corrupt cluster"),
        // A service's call to the kv store got no answer: the outcome is unknown, as for etcd's timed-out proposal.
        "bus.unavailable": (.unavailable, "etcdserver: request timed out"),
        "cluster.bad_leader_transferee": (.failedPrecondition, "etcdserver: bad leader transferee"),
        "cluster.member_not_found": (.notFound, "etcdserver: member not found"),
        // etcd sends this one as Unknown: its error table has no status for it.
        "cluster.not_enough_started_members": (.unknown, "etcdserver: re-configuration failed due to not enough started members"),
        "cluster.member_not_learner": (.failedPrecondition, "etcdserver: can only promote a learner member"),
        "cluster.peer_urls_exist": (.failedPrecondition, "etcdserver: Peer URLs already exists"),
        "cluster.bad_urls": (.invalidArgument, "etcdserver: given member URLs are invalid"),
        "auth.root_user_not_exist": (.failedPrecondition, "etcdserver: root user does not exist"),
        "auth.root_role_not_exist": (.failedPrecondition, "etcdserver: root user does not have root role"),
        "auth.user_already_exists": (.failedPrecondition, "etcdserver: user name already exists"),
        "auth.user_empty": (.invalidArgument, "etcdserver: user name is empty"),
        "auth.user_not_found": (.failedPrecondition, "etcdserver: user name not found"),
        "auth.role_already_exists": (.failedPrecondition, "etcdserver: role name already exists"),
        "auth.role_not_found": (.failedPrecondition, "etcdserver: role name not found"),
        "auth.role_empty": (.invalidArgument, "etcdserver: role name is empty"),
        "auth.failed": (.invalidArgument, "etcdserver: authentication failed, invalid user ID or password"),
        // etcd's error table has no status for it, so it reaches clients as Unknown.
        "auth.no_password_user": (.unknown, "auth: authentication failed, password was given for no password user"),
        "auth.permission_denied": (.permissionDenied, "etcdserver: permission denied"),
        "auth.role_not_granted": (.failedPrecondition, "etcdserver: role is not granted to the user"),
        "auth.permission_not_granted": (.failedPrecondition, "etcdserver: permission is not granted to the role"),
        "auth.permission_not_given": (.invalidArgument, "etcdserver: permission not given"),
        "auth.not_enabled": (.failedPrecondition, "etcdserver: authentication is not enabled"),
        "auth.invalid_token": (.unauthenticated, "etcdserver: invalid auth token"),
        "auth.invalid_management": (.invalidArgument, "etcdserver: invalid auth management"),
        "auth.old_revision": (.invalidArgument, "etcdserver: revision of auth store is old"),
        // etcd has no status for it either: its message goes out as Unknown.
        "auth.verify_only": (.unknown, "auth: token signing attempted with verify-only key"),
        "auth.invalid_password": (.invalidArgument, "etcetera: a password may not contain a NUL character"),
        // etcd 3.4 panics on these (docs/compatibility.md).
        "auth.name_too_long": (.invalidArgument, "etcetera: a user or role name may not be longer than \(AuthHandler.maxNameBytes) bytes"),
    ]

    /// etcd's Maintenance service hands the auth store's errors to gRPC as they are, so clients see
    /// them as Unknown with the auth package's own text; other statuses pass unchanged.
    static func unmappedAuthStatus(_ status: GRPCStatus) -> GRPCStatus {
        guard let message = authPackageMessages[status.message] else { return status }
        return GRPCStatus(code: .unknown, message: message)
    }

    private static let authPackageMessages = [
        "etcdserver: permission denied": "auth: permission denied",
        "etcdserver: user name is empty": "auth: user name is empty",
        "etcdserver: user name not found": "auth: user not found",
        "etcdserver: invalid auth token": "auth: invalid auth token",
        "etcdserver: revision of auth store is old": "auth: revision in header is old",
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
        case "auth.read_only":
            // A read-only auth backend (the file backend) refused a change to users, roles or the enabled
            // flag; its detail names where they come from (the file's path).
            return GRPCStatus(
                code: .failedPrecondition,
                message: "etcetera: auth backend is read-only (users and roles come from \(detail.isEmpty ? "elsewhere" : detail))")
        case "snapshot.not_found":
            // The snapshot was discarded while the client read it (it stopped reading for a minute).
            return GRPCStatus(code: .aborted, message: "etcetera: snapshot discarded before it was read to the end")
        default:
            break
        }
        return GRPCStatus(code: .internalError, message: "etcetera: \(code)\(detail.isEmpty ? "" : ": " + detail)")
    }

    /// A backend that is down, unreachable or too slow is `Unavailable`, the one code clients retry on;
    /// one whose queue is full (`overloaded`) answers etcd's own overload error.
    static func status(_ error: BusError) -> GRPCStatus {
        if error == .overloaded {
            return tooManyRequests
        }
        if error == .deadlineExceeded {
            return GRPCStatus(code: .unavailable, message: "etcdserver: request timed out")
        }
        return GRPCStatus(code: .unavailable, message: "etcdserver: no leader")
    }

    static let requestTooLarge = status(code: "request.too_large", detail: "")

    /// etcd's `ErrGRPCRequestTooManyRequests`: the member is too busy to take the request now.
    static let tooManyRequests = status(code: "request.too_many_requests", detail: "")
}
