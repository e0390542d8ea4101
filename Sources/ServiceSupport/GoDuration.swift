/// Go's `time.ParseDuration`, because etcd's flags take durations in Go's syntax (`1h30m`, `-1.5h`,
/// `250ms`, `0`) and a value etcd accepts must mean the same here.
public enum GoDuration {
    /// The duration in nanoseconds, or nil where Go reports an error (a missing unit, an unknown
    /// unit, an empty string, an overflow).
    public static func nanoseconds(_ text: String) -> Int64? {
        var rest = Substring(text)
        var negative = false
        if let sign = rest.first, sign == "-" || sign == "+" {
            negative = sign == "-"
            rest = rest.dropFirst()
        }
        if rest == "0" { return 0 }
        guard !rest.isEmpty else { return nil }
        var total = 0.0
        while !rest.isEmpty {
            let number = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            guard number != ".", let value = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            let unitText = rest.prefix { !($0.isASCII && ($0.isNumber || $0 == ".")) }
            guard let scale = units[String(unitText)] else { return nil }
            rest = rest.dropFirst(unitText.count)
            total += value * scale
        }
        guard total < 9.223372036854775e18 else { return nil }
        let magnitude = Int64(total.rounded())
        return negative ? -magnitude : magnitude
    }

    /// The duration, or nil as for ``nanoseconds(_:)``.
    public static func parse(_ text: String) -> Duration? {
        nanoseconds(text).map { .nanoseconds($0) }
    }

    private static let units: [String: Double] = [
        "ns": 1, "us": 1e3, "µs": 1e3, "μs": 1e3, "ms": 1e6, "s": 1e9, "m": 60e9, "h": 3600e9,
    ]
}
