import Foundation

/// Scrapes a Prometheus endpoint and parses the answer with python's `prometheus_client` (Debian's
/// python3-prometheus-client), an independent parser of the text format: what it reads is what
/// Prometheus reads.
public enum PrometheusScrape {
    public struct Sample: Decodable, Sendable {
        public let labels: [String: String]
        public let value: Double
    }

    /// The family a sample belongs to, with every sample of that name.
    public struct Series: Decodable, Sendable {
        public let type: String
        public let help: String
        public let samples: [Sample]

        /// The value of the sample whose labels include `labels`; nil if there is none.
        public func value(_ labels: [String: String] = [:]) -> Double? {
            samples.first { sample in labels.allSatisfy { sample.labels[$0.key] == $0.value } }?.value
        }
    }

    /// Every series by sample name (`grpc_server_handled_total`, `…_bucket`, `…_count`).
    public static func scrape(port: Int, path: String = "/metrics") async throws -> [String: Series] {
        let output = try await Command.run("/usr/bin/python3", ["-c", parser, "http://127.0.0.1:\(port)\(path)"])
        guard output.status == 0 else { throw TestFailure("scraping port \(port) failed: \(output.stderr)") }
        return try JSONDecoder().decode([String: Series].self, from: Data(output.stdout.utf8))
    }

    private static let parser = """
        import json, math, sys, urllib.request
        from prometheus_client.parser import text_string_to_metric_families
        text = urllib.request.urlopen(sys.argv[1], timeout=30).read().decode()
        series = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                entry = series.setdefault(sample.name, {"type": family.type, "help": family.documentation, "samples": []})
                if math.isfinite(sample.value):
                    entry["samples"].append({"labels": sample.labels, "value": sample.value})
        print(json.dumps(series))
        """
}
