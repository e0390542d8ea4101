import Foundation
import NIOCore

/// The outcome of a defragment benchmark: how long the Defragment call took, and the puts and ranges
/// of the steady load before, during and after it.
public struct DefragmentBenchmarkReport: Sendable {
    /// The calls of one client in one phase, with etcd's report statistics.
    public struct Phase: Sendable {
        public let report: BenchmarkReport
        /// The slowest successful calls: seconds from the Defragment call's sending to the call's
        /// sending (negative if before it), and the call's latency.
        public let slowestCalls: [(startOffset: Double, latency: Double)]

        init(name: String, calls: [TimedCall], seconds: Double, reference: NIODeadline) {
            var recorder = LatencyRecorder(expectedCount: calls.count)
            for call in calls {
                if let failure = call.failure {
                    recorder.recordFailure(PhaseFailure(description: failure))
                } else {
                    recorder.record(call.latency)
                }
            }
            report = BenchmarkReport(workload: name, requested: calls.count, totalSeconds: seconds, recorder: recorder)
            slowestCalls = calls.filter { $0.failure == nil }
                .sorted { $0.latency > $1.latency }
                .prefix(5)
                .map { (Double((($0.sent - reference).nanoseconds)) / 1e9, $0.latency.inSeconds) }
        }

        public var count: Int { report.requested }

        /// etcd's percentile, or the slowest call when there are too few calls for one at `level`
        /// (one call outstanding through a whole defragment is both its p50 and its p99).
        public func percentile(_ level: Double) -> Double {
            let value = report.percentile(level)
            return value == 0 ? report.slowest : value
        }
    }

    public let configuration: DefragmentBenchmark.Configuration
    /// Seconds from sending the Defragment call to its answer.
    public let defragmentSeconds: Double
    /// How the Defragment call failed, if it did.
    public let defragmentFailure: String?
    public let putsBefore: Phase
    /// Puts outstanding at any moment of the Defragment call.
    public let putsDuring: Phase
    public let putsAfter: Phase
    public let readsBefore: Phase
    /// Ranges outstanding at any moment of the Defragment call.
    public let readsDuring: Phase
    public let readsAfter: Phase

    init(
        configuration: DefragmentBenchmark.Configuration, loadStart: NIODeadline, defragmentStart: NIODeadline,
        defragmentEnd: NIODeadline, defragmentFailure: String?, puts: [TimedCall], reads: [TimedCall]
    ) {
        self.configuration = configuration
        defragmentSeconds = Double((defragmentEnd - defragmentStart).nanoseconds) / 1e9
        self.defragmentFailure = defragmentFailure
        let lastAnswer = (puts + reads).map(\.answered).max() ?? defragmentEnd
        func seconds(_ from: NIODeadline, _ to: NIODeadline) -> Double { max(0, Double((to - from).nanoseconds) / 1e9) }
        func before(_ name: String, _ calls: [TimedCall]) -> Phase {
            Phase(
                name: name + "-before", calls: calls.filter { $0.answered < defragmentStart },
                seconds: seconds(loadStart, defragmentStart), reference: defragmentStart)
        }
        func during(_ name: String, _ calls: [TimedCall]) -> Phase {
            Phase(
                name: name + "-during", calls: calls.filter { $0.overlaps(from: defragmentStart, to: defragmentEnd) },
                seconds: seconds(defragmentStart, defragmentEnd), reference: defragmentStart)
        }
        func after(_ name: String, _ calls: [TimedCall]) -> Phase {
            Phase(
                name: name + "-after", calls: calls.filter { $0.sent > defragmentEnd },
                seconds: seconds(defragmentEnd, lastAnswer), reference: defragmentStart)
        }
        putsBefore = before("put", puts)
        putsDuring = during("put", puts)
        putsAfter = after("put", puts)
        readsBefore = before("range", reads)
        readsDuring = during("range", reads)
        readsAfter = after("range", reads)
    }

    public var defragmentSucceeded: Bool { defragmentFailure == nil }

    public func text(precise: Bool = false) -> String {
        let format = precise ? "%g" : "%.4f"
        var text = "Defragment: "
            + (defragmentFailure.map { "FAILED after \(String(format: format, defragmentSeconds)) secs: \($0)" }
                ?? "answered after \(String(format: format, defragmentSeconds)) secs")
            + "\n"
        let consistency = configuration.serializableReads ? "serializable" : "linearizable"
        text += table(
            "Puts (\(configuration.putRate)/s, one at a time, \(configuration.valueSize)-byte values on "
                + "\(configuration.keySpaceSize) keys)", putsBefore, putsDuring, putsAfter, format: format)
        text += table(
            "Ranges (\(configuration.readRate == 0 ? "unpaced" : "\(configuration.readRate)/s"), one at a time, "
                + "\(consistency), one key)", readsBefore, readsDuring, readsAfter, format: format)
        return text
    }

    private func table(_ title: String, _ before: Phase, _ during: Phase, _ after: Phase, format: String) -> String {
        func line(_ label: String, _ cells: [String]) -> String {
            label.padding(toLength: 14, withPad: " ", startingAt: 0) + cells.map { $0.leftPadded(to: 12) }.joined() + "\n"
        }
        func row(_ label: String, _ value: (Phase) -> String) -> String {
            line(label, [before, during, after].map(value))
        }
        func milliseconds(_ seconds: Double) -> String { String(format: format, seconds * 1000) }
        var text = "\n\(title):\n"
        text += line("", ["before", "during", "after"])
        text += row("  calls", { "\($0.count)" })
        text += row("  failed", { "\($0.report.failed)" })
        text += row("  p50 ms", { milliseconds($0.percentile(50)) })
        text += row("  p99 ms", { milliseconds($0.percentile(99)) })
        text += row("  slowest ms", { milliseconds($0.report.slowest) })
        if !during.slowestCalls.isEmpty {
            text += "  slowest during the defragment (sent at, from the Defragment call):\n"
            for (offset, latency) in during.slowestCalls {
                text += "    \(String(format: "%+.3f", offset)) s: \(milliseconds(latency)) ms\n"
            }
        }
        for phase in [before, during, after] where !phase.report.errors.isEmpty {
            text += "  errors \(phase.report.workload):\n"
            for (error, count) in phase.report.errors.sorted(by: { $0.value > $1.value }) {
                text += "    [\(count)]\t\(error)\n"
            }
        }
        return text
    }

    /// One JSON object on one line for scripts: the six phase reports nested, then a flat summary
    /// whose names are unique in the line.
    public func jsonLine() -> String {
        var fields = [
            "\"workload\":\"defrag\"",
            "\"puts_before\":\(putsBefore.report.jsonLine())",
            "\"puts_during\":\(putsDuring.report.jsonLine())",
            "\"puts_after\":\(putsAfter.report.jsonLine())",
            "\"reads_before\":\(readsBefore.report.jsonLine())",
            "\"reads_during\":\(readsDuring.report.jsonLine())",
            "\"reads_after\":\(readsAfter.report.jsonLine())",
            "\"defrag_ok\":\(defragmentSucceeded)",
        ]
        if let defragmentFailure {
            fields.append("\"defrag_error\":\"\(defragmentFailure.replacingOccurrences(of: "\"", with: "'"))\"")
        }
        fields += [
            "\"put_before_p99_secs\":\(putsBefore.percentile(99))",
            "\"put_before_max_secs\":\(putsBefore.report.slowest)",
            "\"put_during_count\":\(putsDuring.count)",
            "\"put_during_failed\":\(putsDuring.report.failed)",
            "\"put_during_p50_secs\":\(putsDuring.percentile(50))",
            "\"put_during_p99_secs\":\(putsDuring.percentile(99))",
            "\"put_during_max_secs\":\(putsDuring.report.slowest)",
            "\"read_before_p99_secs\":\(readsBefore.percentile(99))",
            "\"read_during_count\":\(readsDuring.count)",
            "\"read_during_failed\":\(readsDuring.report.failed)",
            "\"read_during_p99_secs\":\(readsDuring.percentile(99))",
            "\"read_during_max_secs\":\(readsDuring.report.slowest)",
            "\"defrag_secs\":\(defragmentSeconds)",
        ]
        return "{" + fields.joined(separator: ",") + "}"
    }
}

/// A failed call as the steady caller described it, counted by that description.
private struct PhaseFailure: Error, CustomStringConvertible {
    let description: String
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? " " + self : String(repeating: " ", count: width - count) + self
    }
}
