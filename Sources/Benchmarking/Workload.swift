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
}

extension Workload {
    public var banner: String? { nil }
}
