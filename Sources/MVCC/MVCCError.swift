/// A failure of an MVCC request. The kv service sends `code` over the bus; the gateway alone turns it
/// into etcd's gRPC status and message.
public struct MVCCError: Error, Sendable, Hashable, CustomStringConvertible {
    private enum Kind: String, Sendable, Hashable {
        case emptyKey = "request.empty_key"
        case keyNotFound = "request.key_not_found"
        case valueProvided = "request.value_provided"
        case leaseProvided = "request.lease_provided"
        case tooManyOperations = "request.too_many_ops"
        case duplicateKey = "request.duplicate_key"
        case undefinedSortTarget = "request.undefined_sort_target"
        case undefinedAlarmAction = "request.undefined_alarm_action"
        case compacted = "mvcc.compacted"
        case futureRevision = "mvcc.future_revision"
        case leaseNotFound = "lease.not_found"
        case noSpace = "mvcc.no_space"
        case storageFailure = "storage.failure"
        case corrupt = "storage.corrupt"
    }

    private let kind: Kind
    /// Extra context for logs; never shown to clients.
    public let detail: String

    private init(_ kind: Kind, detail: String = "") {
        self.kind = kind
        self.detail = detail
    }

    /// A request's key (or a compare's key) is empty.
    public static let emptyKey = MVCCError(.emptyKey)
    /// `ignore_value` / `ignore_lease` on a key that does not exist.
    public static let keyNotFound = MVCCError(.keyNotFound)
    /// `ignore_value` together with a value.
    public static let valueProvided = MVCCError(.valueProvided)
    /// `ignore_lease` together with a lease.
    public static let leaseProvided = MVCCError(.leaseProvided)
    /// A txn with more compares or ops than `--max-txn-ops`.
    public static let tooManyOperations = MVCCError(.tooManyOperations)
    /// A txn that writes the same key twice in one branch path.
    public static let duplicateKey = MVCCError(.duplicateKey)
    /// A range sorted by a target etcd does not define.
    public static let undefinedSortTarget = MVCCError(.undefinedSortTarget)
    /// An alarm request with an action etcd does not define.
    public static let undefinedAlarmAction = MVCCError(.undefinedAlarmAction)
    /// The revision asked for has been compacted away.
    public static let compacted = MVCCError(.compacted)
    /// The revision asked for is newer than the store's.
    public static let futureRevision = MVCCError(.futureRevision)
    /// A put names a lease the store does not know.
    public static let leaseNotFound = MVCCError(.leaseNotFound)
    /// The store is over its quota, or the NOSPACE alarm is active; the write was not applied.
    public static let noSpace = MVCCError(.noSpace)
    /// The storage engine failed; the request was not applied.
    public static func storageFailure(_ detail: String) -> MVCCError { MVCCError(.storageFailure, detail: detail) }
    /// Stored data failed to decode or verify.
    public static func corrupt(_ detail: String) -> MVCCError { MVCCError(.corrupt, detail: detail) }

    /// The stable identifier sent over the bus (see docs/bus.md).
    public var code: String { kind.rawValue }

    public var description: String { detail.isEmpty ? code : "\(code): \(detail)" }

    public static func == (lhs: MVCCError, rhs: MVCCError) -> Bool { lhs.kind == rhs.kind }
    public func hash(into hasher: inout Hasher) { hasher.combine(kind) }
}
