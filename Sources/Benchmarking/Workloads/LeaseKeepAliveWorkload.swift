import EtceteraAPI
import SwiftProtobuf

/// `lease-keepalive`: etcd's benchmark grants one lease (TTL 100 s) per client and renews it with
/// `KeepAliveOnce`, a new LeaseKeepAlive stream per request. Here the leases are granted before the
/// clock starts, with IDs from a random base so that runs against the same server do not collide,
/// and request `i` renews lease `i mod clients`.
public struct LeaseKeepAliveWorkload: Workload {
    public let name = "lease-keepalive"
    public let total: Int
    public let path = "/etcdserverpb.Lease/LeaseKeepAlive"
    public let opensStreamPerRequest = true
    private let leaseIDs: [Int64]

    public init(total: Int, clients: Int) throws {
        guard total > 0, clients > 0 else {
            throw BenchmarkError(code: .invalidConfiguration, message: "expected positive --total and --clients")
        }
        self.total = total
        let base = Int64.random(in: 1...(1 << 40)) << 16
        leaseIDs = (0..<Int64(clients)).map { base + $0 }
    }

    public var setUpCalls: [(path: String, request: any SwiftProtobuf.Message)] {
        leaseIDs.map { id in
            var grant = Etcdserverpb_LeaseGrantRequest()
            grant.id = id
            grant.ttl = 100
            return (path: "/etcdserverpb.Lease/LeaseGrant", request: grant)
        }
    }

    public func request(_ index: Int) -> any SwiftProtobuf.Message {
        var request = Etcdserverpb_LeaseKeepAliveRequest()
        request.id = leaseIDs[index % leaseIDs.count]
        return request
    }
}
