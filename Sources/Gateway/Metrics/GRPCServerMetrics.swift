import GRPCWire
import Prometheus
import Synchronization

/// grpc-go's server metrics, which etcd exports under these names, labels and help texts
/// (`grpc_server_started_total` …), plus the latency of each unary call as the gateway serves it.
///
/// They wrap the method table, so calls count whichever transport makes them: gRPC, or the JSON
/// gateway (etcd's grpc-gateway calls its own gRPC server, so etcd counts those too). Every method
/// gets its series up front, each gRPC code included, as grpc-go's interceptor does: a dashboard
/// finds `grpc_code="Unavailable"` at 0 before the first failure, and a call finds its counters
/// without a lookup.
enum GRPCServerMetrics {
    /// `table` with every registered call counted in `registry`.
    static func instrument(_ table: MethodTable, registry: PrometheusCollectorRegistry) -> MethodTable {
        table.wrapping(
            unary: { path, handler in
                let counters = Counters(path: path, type: .unary, registry: registry)
                return { request, context, respond in
                    let started = ContinuousClock.now
                    counters.callStarted()
                    counters.messageReceived()
                    handler(request, context) { result in
                        counters.answered(result, after: ContinuousClock.now - started)
                        respond(result)
                    }
                }
            },
            streaming: { path, type, open in
                let counters = Counters(path: path, type: type, registry: registry)
                return { context, writer in
                    counters.callStarted()
                    let outcome = StreamOutcome(counters: counters)
                    let counted = StreamWriter(
                        deliver: { messages, written in
                            counters.messagesSent(messages.count)
                            writer.send(messages, written: written)
                        },
                        finish: { status in
                            outcome.ended(status.code)
                            writer.finish(status)
                        },
                        resume: { writer.resumeReading() })
                    return CountedStream(open(context, counted), counters: counters, outcome: outcome)
                }
            })
    }

    /// The series of one method.
    private final class Counters: Sendable {
        private let started: Counter
        private let received: Counter
        private let sent: Counter
        /// One counter per gRPC code, indexed by the code's raw value.
        private let handled: [Counter]
        private let latency: DurationHistogram?

        init(path: String, type: MethodTable.CallType, registry: PrometheusCollectorRegistry) {
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

        func callStarted() { started.increment() }

        func messageReceived() { received.increment() }

        func messagesSent(_ count: Int) { sent.increment(by: Int64(count)) }

        func callHandled(_ code: GRPCStatus.Code) { handled[code.rawValue].increment() }

        /// A unary call's answer.
        func answered(_ result: Result<[UInt8], GRPCStatus>, after elapsed: Duration) {
            switch result {
            case .success:
                messagesSent(1)
                callHandled(.ok)
            case .failure(let status):
                callHandled(status.code)
            }
            latency?.record(elapsed)
        }
    }

    /// How a stream ended, counted once: by its own status, or as `Canceled` when the client left first
    /// (a status written after that goes nowhere).
    private final class StreamOutcome: Sendable {
        private let counters: Counters
        private let done = Atomic(false)

        init(counters: Counters) {
            self.counters = counters
        }

        func ended(_ code: GRPCStatus.Code) {
            guard !done.exchange(true, ordering: .relaxed) else { return }
            counters.callHandled(code)
        }
    }

    /// A stream whose client messages and cancellation are counted before they reach the call.
    private final class CountedStream: StreamingCall {
        private let call: StreamingCall
        private let counters: Counters
        private let outcome: StreamOutcome

        init(_ call: StreamingCall, counters: Counters, outcome: StreamOutcome) {
            self.call = call
            self.counters = counters
            self.outcome = outcome
        }

        func received(_ message: [UInt8]) -> StreamDemand {
            counters.messageReceived()
            return call.received(message)
        }

        func clientFinished() { call.clientFinished() }

        func cancelled() {
            outcome.ended(.cancelled)
            call.cancelled()
        }
    }

    /// grpc-go's names and help texts, word for word, and the gateway's latency histogram.
    private enum Names {
        static var started: MetricNameDescriptor { grpcServer("started", "Total number of RPCs started on the server.") }
        static var handled: MetricNameDescriptor {
            grpcServer("handled", "Total number of RPCs completed on the server, regardless of success or failure.")
        }
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
