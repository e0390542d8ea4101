/// Prometheus text format (version 0.0.4) for values the gateway reads at scrape time from other
/// processes. They are written afresh on every scrape rather than kept in the registry: a counter
/// the kv service reports is an absolute value, and a value that could not be fetched is left out
/// instead of repeating a stale one.
struct ExpositionText {
    enum Kind: String {
        case counter
        case gauge
    }

    private(set) var text = ""

    /// Writes one metric family: its help and type lines, then one sample per label set.
    mutating func family(_ name: String, _ kind: Kind, help: String, samples: [(labels: [(String, String)], value: Int64)]) {
        text += "# HELP \(name) \(Self.escapedHelp(help))\n# TYPE \(name) \(kind.rawValue)\n"
        for sample in samples {
            text += name
            if !sample.labels.isEmpty {
                text += "{" + sample.labels.map { "\($0.0)=\"\(Self.escapedLabelValue($0.1))\"" }.joined(separator: ",") + "}"
            }
            text += " \(sample.value)\n"
        }
    }

    /// A family of one unlabelled sample.
    mutating func single(_ name: String, _ kind: Kind, help: String, value: Int64) {
        family(name, kind, help: help, samples: [([], value)])
    }

    private static func escapedHelp(_ help: String) -> String {
        help.replacing("\\", with: "\\\\").replacing("\n", with: "\\n")
    }

    private static func escapedLabelValue(_ value: String) -> String {
        value.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"").replacing("\n", with: "\\n")
    }
}
