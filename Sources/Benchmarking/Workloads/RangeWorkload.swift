import EtceteraAPI
import Foundation
import SwiftProtobuf

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
    private let rangeRequest: Etcdserverpb_RangeRequest

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
        rangeRequest = request
        total = configuration.total
        banner =
            configuration.consistency == .serializable
            ? "bench with serializable range" : "bench with linearizable range"
    }

    public let path = "/etcdserverpb.KV/Range"

    public func request(_ index: Int) -> any SwiftProtobuf.Message {
        rangeRequest
    }
}
