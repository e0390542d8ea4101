import GRPCWire
import Prometheus

/// grpc-go's server metrics, which etcd exports under these names, labels and help texts
/// (`grpc_server_started_total` …), plus the latency of each unary call as the gateway sees it.
///
/// Every method of the table gets its series up front, each gRPC code included, as grpc-go's
/// interceptor does: a dashboard finds `grpc_code="Unavailable"` at 0 before the first failure, and the
/// hot path looks its counters up without a lock.
final class GRPCServerMetrics: Sendable {
    /// The counters of one method.
    final class Method: Sendable {
        private let started: Counter
        private let received: Counter
        private let sent: Counter
        /// One counter per gRPC code, indexed by the code's raw value.
        private let handled: [Counter]
        private let latency: DurationHistogram?

        fileprivate init(path: String, type: MethodTable.CallType, registry: PrometheusCollectorRegistry) {
            let parts = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
            let method = [("grpc_method", parts.last ?? path), ("grpc_service", parts.first ?? "")]
            let labels = method + [("grpc_type", type.rawValue)]
            started = registry.makeCounter(descriptor: Names.started, labels: labels)
            received = registry.makeCounter(descriptor: Names.received, labels: labels)
            sent = registry.makeCounter(descriptor: Names.sent, labels: labels)
            handled = (0...16).compactMap(GRPCStatus.Code.init(rawValue:)).map { code in
                registry.makeCounter(descriptor: Names.handled, labels: [("grpc_code", code.name)] + labels)
            }
            latency = type == .unary
                ? registry.makeDurationHistogram(descriptor: Names.latency, labels: method, buckets: GatewayMetrics.latencyBuckets)
                : nil
        }

        /// A call began: a stream opened, or a unary call's request arrived whole.
        func callStarted() { started.increment() }

        func messageReceived() { received.increment() }

        func messageSent() { sent.increment() }

        /// A call ended with `code`; `elapsed` since it started, for unary calls.
        func callHandled(_ code: GRPCStatus.Code, after elapsed: Duration? = nil) {
            handled[code.rawValue].increment()
            if let elapsed { latency?.record(elapsed) }
        }
    }

    private let methods: [String: Method]

    init(table: MethodTable, registry: PrometheusCollectorRegistry) {
        methods = Dictionary(uniqueKeysWithValues: table.callTypes.map { path, type in
            (path, Method(path: path, type: type, registry: registry))
        })
    }

    /// The counters of the method at `path`; nil for a method the gateway does not serve (grpc-go
    /// counts only registered methods too).
    func method(_ path: String) -> Method? { methods[path] }

    /// grpc-go's names and help texts, word for word, and the gateway's latency histogram.
    private enum Names {
        static var started: MetricNameDescriptor { grpcServer("started", "Total number of RPCs started on the server.") }
        static var handled: MetricNameDescriptor { grpcServer("handled", "Total number of RPCs completed on the server, regardless of success or failure.") }
        static var received: MetricNameDescriptor { grpcServer("msg_received", "Total number of RPC stream messages received on the server.") }
        static var sent: MetricNameDescriptor { grpcServer("msg_sent", "Total number of gRPC stream messages sent by the server.") }
        static var latency: MetricNameDescriptor {
            MetricNameDescriptor(
                namespace: "etcetera", subsystem: "gateway", metricName: "request_duration", unitName: "seconds",
                helpText: "Time from a unary call's request to its response, as the gateway serves it (bus round trip included).")
        }

        private static func grpcServer(_ name: String, _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(namespace: "grpc", subsystem: "server", metricName: name, unitName: "total", helpText: help)
        }
    }
}
