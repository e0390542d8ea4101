/// Per-worker record of request latencies and failures.
///
/// Every latency is kept (8 bytes a request) so percentiles are exact and computed as etcd's report
/// computes them; each worker owns its recorder, so recording takes no lock, and recorders are merged
/// once the run is over.
public struct LatencyRecorder: Sendable {
    /// Successful request latencies in seconds, in completion order.
    public private(set) var latencies: [Double] = []
    /// Failed requests counted by error description, as etcd's "Error distribution".
    public private(set) var errors: [String: Int] = [:]

    public init(expectedCount: Int = 0) {
        latencies.reserveCapacity(expectedCount)
    }

    public mutating func record(_ latency: Duration) {
        latencies.append(latency.inSeconds)
    }

    public mutating func recordFailure(_ error: any Error) {
        errors["\(error)", default: 0] += 1
    }

    public mutating func merge(_ other: LatencyRecorder) {
        latencies.append(contentsOf: other.latencies)
        errors.merge(other.errors, uniquingKeysWith: +)
    }
}

extension Duration {
    /// Seconds as a floating-point number: how reports print durations.
    var inSeconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) * 1e-18
    }
}
