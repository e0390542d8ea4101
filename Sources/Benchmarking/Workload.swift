import SwiftProtobuf

/// One benchmark: a fixed number of requests to one KV method, all encoded before the clock starts so
/// that the timed loop only sends them.
public protocol Workload: Sendable {
    /// Name used in reports (`put`, `range`, `txn-put`).
    var name: String { get }
    /// Number of requests the run sends.
    var total: Int { get }
    /// A line etcd's tool prints before the run, if any (`bench with linearizable range`).
    var banner: String? { get }
    /// The gRPC method every request calls (`/etcdserverpb.KV/Put`).
    var path: String { get }
    /// Request number `index` (0 ..< total).
    func request(_ index: Int) -> any SwiftProtobuf.Message
    /// Whether `path` is a streaming method called as clientv3's `KeepAliveOnce` calls it: a new
    /// stream per request, reset once the first response arrives.
    var opensStreamPerRequest: Bool { get }
    /// Unary calls made once, untimed, before the run (the leases a keep-alive run renews).
    var setUpCalls: [(path: String, request: any SwiftProtobuf.Message)] { get }
}

extension Workload {
    public var banner: String? { nil }
    public var opensStreamPerRequest: Bool { false }
    public var setUpCalls: [(path: String, request: any SwiftProtobuf.Message)] { [] }
}
