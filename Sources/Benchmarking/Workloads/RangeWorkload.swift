import EtceteraAPI
import Foundation
import GRPCCore

/// `range KEY [END]`: the same Range request sent `total` times, linearizable or serializable.
public struct RangeWorkload: Workload {
    /// etcd's `--consistency` values.
    public enum Consistency: String, Sendable, CaseIterable {
        case linearizable = "l"
        case serializable = "s"
    }

    public struct Configuration: Sendable {
        public var key: String
        public var rangeEnd: String?
        public var total = 10000
        public var consistency = Consistency.linearizable
        public var limit: Int64 = 0

        public init(key: String) { self.key = key }
    }

    public let name = "range"
    public let total: Int
    public let banner: String?
    private let request: Etcdserverpb_RangeRequest

    public init(_ configuration: Configuration) throws {
        guard configuration.total > 0 else {
            throw BenchmarkError(code: .invalidConfiguration, message: "expected positive --total")
        }
        guard configuration.limit >= 0 else {
            throw BenchmarkError(code: .invalidConfiguration, message: "expected non-negative --limit")
        }
        var request = Etcdserverpb_RangeRequest()
        request.key = Data(configuration.key.utf8)
        if let end = configuration.rangeEnd { request.rangeEnd = Data(end.utf8) }
        request.serializable = configuration.consistency == .serializable
        request.limit = configuration.limit
        self.request = request
        total = configuration.total
        banner =
            configuration.consistency == .serializable
            ? "bench with serializable range" : "bench with linearizable range"
    }

    public func perform(_ index: Int, on client: KVClient, options: CallOptions) async throws {
        try await client.range(request, options: options) { response in
            _ = try response.message
        }
    }
}
