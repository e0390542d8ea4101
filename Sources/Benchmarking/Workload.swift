import EtceteraAPI
import GRPCCore
import GRPCNIOTransportHTTP2

/// The KV client every workload drives: etcd's API over one HTTP/2 connection.
public typealias KVClient = Etcdserverpb_KV.Client<HTTP2ClientTransport.Posix>

/// One benchmark: a fixed number of requests, all built before the clock starts so that the timed
/// loop only sends them.
public protocol Workload: Sendable {
    /// Name used in reports (`put`, `range`, `txn-put`).
    var name: String { get }
    /// Number of requests the run sends.
    var total: Int { get }
    /// A line etcd's tool prints before the run, if any (`bench with linearizable range`).
    var banner: String? { get }
    /// Sends request number `index` (0 ..< total) and waits for its response.
    func perform(_ index: Int, on client: KVClient, options: CallOptions) async throws
}

extension Workload {
    public var banner: String? { nil }
}
