import Foundation

/// etcd 3.4's `--logger`: the shape of the lines that scripts written for etcd wait for. Only those
/// lines take it; the launcher's and the services' own lines keep swift-log's format.
public enum EtcdLogFormat: String, Sendable, Hashable, CaseIterable {
    /// etcd 3.4's default: `2026-11-21 18:40:11.735418 I | embed: ready to serve client requests`.
    case capnslog
    /// One JSON object per line, as etcd's zap logger writes it.
    case zap

    /// What etcd 3.4 prints once it serves client requests on `address` (`127.0.0.1:2379`), plaintext
    /// or TLS (`secure`). With capnslog that is the `ready to serve client requests` line and the
    /// serving line (a notice with a warning for plaintext); with zap, etcd 3.4 prints only the serving
    /// line (there is no readiness line to copy).
    public func readinessLines(address: String, secure: Bool = false, at date: Date = Date()) -> [String] {
        switch self {
        case .capnslog:
            let time = Self.capnslogTime(date)
            return [
                "\(time) I | embed: ready to serve client requests",
                secure
                    ? "\(time) I | embed: serving client requests on \(address)"
                    : "\(time) N | embed: serving insecure client requests on \(address), this is strongly discouraged!",
            ]
        case .zap:
            let fields: [(String, String)] = [
                ("level", "info"), ("ts", Self.zapTime(date)), ("caller", "etcetera/launcher"),
                ("msg", secure ? "serving client traffic securely" : "serving client traffic insecurely; this is strongly discouraged!"),
                ("address", address),
            ]
            return ["{" + fields.map { "\"\($0.0)\":\"\($0.1)\"" }.joined(separator: ",") + "}"]
        }
    }

    /// capnslog's `2006-01-02 15:04:05.000000`, in local time.
    private static func capnslogTime(_ date: Date) -> String {
        let parts = Calendar.current.dateComponents(in: .current, from: date)
        let microseconds = Int((date.timeIntervalSince1970 * 1_000_000).truncatingRemainder(dividingBy: 1_000_000))
        return String(
            format: "%04d-%02d-%02d %02d:%02d:%02d.%06d", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0,
            parts.hour ?? 0, parts.minute ?? 0, parts.second ?? 0, microseconds)
    }

    /// zap's ISO 8601 time in UTC with milliseconds: `2026-11-21T18:40:16.355Z`.
    private static func zapTime(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }
}
