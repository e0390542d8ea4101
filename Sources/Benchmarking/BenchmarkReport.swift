import Foundation

/// The outcome of one run, with the statistics and the text layout of etcd's `pkg/report`.
public struct BenchmarkReport: Sendable {
    /// The percentiles etcd's report prints.
    public static let percentileLevels: [Double] = [10, 25, 50, 75, 90, 95, 99, 99.9]

    public let workload: String
    /// Requests the run was asked to send.
    public let requested: Int
    /// Wall time from the first request sent to the last response received, in seconds.
    public let totalSeconds: Double
    /// Successful request latencies in seconds, sorted ascending.
    public let latencies: [Double]
    public let errors: [String: Int]

    public let average: Double
    public let standardDeviation: Double
    /// Successful requests per second of wall time (failed requests do not count, as in etcd).
    public let requestsPerSecond: Double

    public init(workload: String, requested: Int, totalSeconds: Double, recorder: LatencyRecorder) {
        self.workload = workload
        self.requested = requested
        self.totalSeconds = totalSeconds
        latencies = recorder.latencies.sorted()
        errors = recorder.errors
        let count = Double(latencies.count)
        let mean = latencies.isEmpty ? 0 : latencies.reduce(0, +) / count
        average = mean
        standardDeviation =
            latencies.isEmpty
            ? 0 : (latencies.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / count).squareRoot()
        requestsPerSecond = totalSeconds > 0 ? count / totalSeconds : 0
    }

    public var fastest: Double { latencies.first ?? 0 }
    public var slowest: Double { latencies.last ?? 0 }
    public var failed: Int { errors.values.reduce(0, +) }

    /// The first sample at or above `level` percent of the samples, as etcd's `percentiles` picks it.
    public func percentile(_ level: Double) -> Double {
        let count = latencies.count
        for index in 0..<count where Double(index) * 100 / Double(count) >= level {
            return latencies[index]
        }
        return 0
    }

    /// etcd's report: summary, response time histogram, latency distribution and error distribution.
    /// - Parameter precise: full floating-point precision (etcd's `--precise`) instead of 4 decimals.
    public func text(precise: Bool = false) -> String {
        let format = precise ? "%g" : "%4.4f"
        func number(_ value: Double) -> String { String(format: format, value) }
        func seconds(_ value: Double) -> String { number(value) + " secs" }

        var text = ""
        if !latencies.isEmpty {
            text += "\nSummary:\n"
            text += "  Total:\t\(seconds(totalSeconds)).\n"
            text += "  Slowest:\t\(seconds(slowest)).\n"
            text += "  Fastest:\t\(seconds(fastest)).\n"
            text += "  Average:\t\(seconds(average)).\n"
            text += "  Stddev:\t\(seconds(standardDeviation)).\n"
            text += "  Requests/sec:\t\(number(requestsPerSecond))\n"
            text += histogram(number)
            text += "\nLatency distribution:\n"
            for level in Self.percentileLevels {
                let value = percentile(level)
                if value > 0 { text += "  \(Self.label(level))% in \(seconds(value)).\n" }
            }
        }
        if !errors.isEmpty {
            text += "\nError distribution:\n"
            for (error, count) in errors.sorted(by: { $0.value > $1.value }) {
                text += "  [\(count)]\t\(error)\n"
            }
        }
        return text
    }

    /// One JSON object on one line, latencies in seconds, for scripts.
    public func jsonLine() -> String {
        var fields: [(String, String)] = [
            ("workload", "\"\(workload)\""),
            ("requested", "\(requested)"),
            ("succeeded", "\(latencies.count)"),
            ("failed", "\(failed)"),
            ("total_secs", Self.json(totalSeconds)),
            ("requests_per_sec", Self.json(requestsPerSecond)),
            ("average_secs", Self.json(average)),
            ("stddev_secs", Self.json(standardDeviation)),
            ("fastest_secs", Self.json(fastest)),
            ("slowest_secs", Self.json(slowest)),
        ]
        for level in Self.percentileLevels {
            let key = "p" + Self.label(level).replacingOccurrences(of: ".", with: "_") + "_secs"
            fields.append((key, Self.json(percentile(level))))
        }
        if let firstError = errors.max(by: { $0.value < $1.value })?.key {
            fields.append(("first_error", Self.jsonString(firstError)))
        }
        return "{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
    }

    /// Bucket counts between fastest and slowest, drawn as etcd draws them.
    private func histogram(_ number: (Double) -> String) -> String {
        let bucketCount = 10
        let step = (slowest - fastest) / Double(bucketCount)
        var bounds = (0..<bucketCount).map { fastest + step * Double($0) }
        bounds.append(slowest)
        var counts = [Int](repeating: 0, count: bounds.count)
        var bucket = 0
        var index = 0
        while index < latencies.count {
            if latencies[index] <= bounds[bucket] {
                counts[bucket] += 1
                index += 1
            } else if bucket < bounds.count - 1 {
                bucket += 1
            } else {
                counts[bucket] += 1
                index += 1
            }
        }
        let largest = counts.max() ?? 0
        var text = "\nResponse time histogram:\n"
        for (bound, count) in zip(bounds, counts) {
            let bar = String(repeating: "∎", count: largest > 0 ? count * 40 / largest : 0)
            text += "  \(number(bound)) [\(count)]\t|\(bar)\n"
        }
        return text
    }

    /// `10`, `99.9`: the way Go's `%v` prints the percentile levels.
    private static func label(_ level: Double) -> String {
        level == level.rounded() ? String(Int(level)) : String(level)
    }

    private static func json(_ value: Double) -> String {
        value.isFinite ? "\(value)" : "0"
    }

    private static func jsonString(_ text: String) -> String {
        var escaped = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": escaped += "\\\""
            case "\\": escaped += "\\\\"
            case _ where scalar.value < 0x20: escaped += String(format: "\\u%04x", scalar.value)
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped + "\""
    }
}
