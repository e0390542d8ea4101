import Foundation
import NIOCore

/// The outcome of a watch benchmark: whether delivery was exact, how fast puts went, and how long
/// events took to arrive.
public struct WatchBenchmarkReport: Sendable {
    /// Delivery counts of a group of watchers.
    public struct Delivery: Sendable {
        public var watchers = 0
        public var expected = 0
        public var received = 0
        /// Events a watcher still lacked when the run ended.
        public var missing = 0
        /// Events beyond what a watcher expected (duplicates).
        public var extra = 0
        /// Events whose revision did not exceed the watcher's previous one.
        public var outOfOrder = 0
        /// Events for keys or values the watcher did not ask for.
        public var foreign = 0

        /// Every watcher got exactly its events, in order.
        public var exact: Bool { missing == 0 && extra == 0 && outOfOrder == 0 && foreign == 0 }

        mutating func add(_ tallies: [WatcherTally]) {
            for tally in tallies {
                watchers += 1
                expected += tally.expected
                received += tally.received
                missing += max(0, tally.expected - tally.received)
                extra += max(0, tally.received - tally.expected)
                outOfOrder += tally.outOfOrder
                foreign += tally.foreign
            }
        }

        func text(_ title: String) -> String {
            "\(title): \(watchers) watchers, events expected \(expected), received \(received), missing \(missing), "
                + "duplicated \(extra), out of order \(outOfOrder), foreign \(foreign) — \(exact ? "exact" : "NOT EXACT")"
        }
    }

    public let configuration: WatchBenchmark.Configuration
    public let creationSeconds: Double
    /// Puts, with etcd's report layout.
    public let puts: BenchmarkReport
    /// Event arrival after the put's acknowledgement (0 for events that arrived before it).
    public let delivery: BenchmarkReport
    public let watchers: Delivery
    public let stalled: Delivery?
    /// Seconds from the stalled stream reading again until its last event arrived.
    public let stalledCatchUpSeconds: Double?
    /// Stream failures (cancellations, closed streams) by description.
    public let failures: [String: Int]
    /// A few watchers that did not get exactly their events, described for diagnosis.
    public let inexactSample: [String]

    /// Every watcher, stalled ones included, got exactly its events and no stream failed.
    public var exact: Bool { watchers.exact && (stalled?.exact ?? true) && failures.isEmpty }

    init(
        configuration: WatchBenchmark.Configuration, creationSeconds: Double, putSeconds: Double,
        settledSeconds: Double, puts outcome: LoadOutcome, streams: [StreamResult], stalled: StreamResult?,
        stallResumedAt: NIODeadline?
    ) {
        self.configuration = configuration
        self.creationSeconds = creationSeconds
        puts = BenchmarkReport(
            workload: "put", requested: configuration.putTotal, totalSeconds: putSeconds, recorder: outcome.recorder)
        var acknowledged = [NIODeadline?](repeating: nil, count: configuration.putTotal)
        for (put, at) in outcome.acknowledgements { acknowledged[put] = at }
        var latencies = LatencyRecorder(expectedCount: streams.reduce(0) { $0 + $1.arrivals.count })
        var watchers = Delivery()
        var failures: [String: Int] = [:]
        var inexactSample: [String] = []
        for (index, stream) in streams.enumerated() {
            watchers.add(stream.tallies)
            for (position, tally) in stream.tallies.enumerated()
            where inexactSample.count < 10 && (tally.received != tally.expected || tally.outOfOrder > 0 || tally.foreign > 0) {
                inexactSample.append(
                    "stream \(index) watcher \(position) (key \(tally.key.map(String.init) ?? "all")): "
                        + "\(tally.received) of \(tally.expected) events, last revision \(tally.lastRevision), "
                        + "\(tally.outOfOrder) out of order, \(tally.foreign) foreign")
            }
            for failure in stream.failures { failures[failure, default: 0] += 1 }
            for (put, at) in stream.arrivals {
                guard let acknowledgedAt = acknowledged[Int(put)] else { continue }
                latencies.record(.nanoseconds(max(0, (at - acknowledgedAt).nanoseconds)))
            }
        }
        delivery = BenchmarkReport(
            workload: "watch-delivery", requested: watchers.expected, totalSeconds: settledSeconds, recorder: latencies)
        self.watchers = watchers
        if let stalled {
            var delivery = Delivery()
            delivery.add(stalled.tallies)
            self.stalled = delivery
            for failure in stalled.failures { failures["stalled stream: " + failure, default: 0] += 1 }
            let lastArrival = stalled.arrivals.map(\.at).max()
            if let stallResumedAt, let lastArrival {
                stalledCatchUpSeconds = max(0, Double((lastArrival - stallResumedAt).nanoseconds) / 1e9)
            } else {
                stalledCatchUpSeconds = nil
            }
        } else {
            self.stalled = nil
            stalledCatchUpSeconds = nil
        }
        self.failures = failures
        self.inexactSample = inexactSample
    }

    public func text(precise: Bool = false) -> String {
        var text = "Watch: \(configuration.streams * configuration.watchersPerStream) watchers over "
            + "\(configuration.streams) streams on \(configuration.connections) connections, "
            + "\(configuration.keySpaceSize) keys, \(configuration.putTotal) puts"
            + (configuration.lockstep ? " (each waits for its events)" : "") + "\n"
        text += "Watchers created in \(String(format: "%.2f", creationSeconds)) s\n"
        text += "\nPuts:" + puts.text(precise: precise) + "\n"
        text += "\nDelivery (put acknowledgement to event arrival):" + delivery.text(precise: precise) + "\n"
        text += "\n" + watchers.text("Watchers") + "\n"
        if let stalled {
            text += stalled.text("Stalled stream (stopped reading \(configuration.stallSeconds) s)") + "\n"
            if let stalledCatchUpSeconds {
                text += "Stalled stream had its last event \(String(format: "%.2f", stalledCatchUpSeconds)) s after reading again\n"
            }
        }
        for (failure, count) in failures.sorted(by: { $0.value > $1.value }) {
            text += "  [\(count)]\t\(failure)\n"
        }
        if !inexactSample.isEmpty {
            text += "Some watchers without exactly their events:\n"
            for line in inexactSample { text += "  \(line)\n" }
        }
        return text
    }

    /// One JSON object on one line for scripts. The nested put and delivery reports come first; the
    /// top-level summary after them uses the names of ``BenchmarkReport/jsonLine()`` (throughput is
    /// events delivered per second, latencies are delivery latencies, failures are events missing,
    /// duplicated or out of order), so the compare script reads both kinds of line alike.
    public func jsonLine() -> String {
        var fields = [
            "\"puts\":\(puts.jsonLine())",
            "\"delivery\":\(delivery.jsonLine())",
            "\"exact\":\(exact)",
            "\"watchers\":\(watchers.watchers)",
            "\"events_expected\":\(watchers.expected)",
            "\"events_received\":\(watchers.received)",
            "\"events_missing\":\(watchers.missing)",
            "\"events_duplicated\":\(watchers.extra)",
            "\"events_out_of_order\":\(watchers.outOfOrder)",
            "\"creation_secs\":\(creationSeconds)",
            "\"put_p50_secs\":\(puts.percentile(50))",
            "\"put_p99_secs\":\(puts.percentile(99))",
            "\"put_average_secs\":\(puts.average)",
        ]
        if let stalled {
            fields.append("\"stalled_exact\":\(stalled.exact)")
            fields.append("\"stalled_received\":\(stalled.received)")
            fields.append("\"stalled_expected\":\(stalled.expected)")
            if let stalledCatchUpSeconds { fields.append("\"stalled_catch_up_secs\":\(stalledCatchUpSeconds)") }
        }
        let failed = watchers.missing + watchers.extra + watchers.outOfOrder + watchers.foreign
            + (stalled.map { $0.missing + $0.extra + $0.outOfOrder + $0.foreign } ?? 0)
        fields += [
            "\"requests_per_sec\":\(delivery.requestsPerSecond)",
            "\"p50_secs\":\(delivery.percentile(50))",
            "\"p99_secs\":\(delivery.percentile(99))",
            "\"failed\":\(failed + failures.values.reduce(0, +))",
        ]
        return "{" + fields.joined(separator: ",") + "}"
    }
}
