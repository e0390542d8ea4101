import Foundation

/// etcd 3.4's `--logger`: the shape of the lines that scripts written for etcd wait for. Only those
/// lines take it; the launcher's and the services' own lines keep swift-log's format.
public enum EtcdLogFormat: String, Sendable, Hashable, CaseIterable {
    /// etcd 3.4's default: `2026-11-21 18:40:11.735418 I | embed: ready to serve client requests`.
    case capnslog
    /// One JSON object per line, as etcd's zap logger writes it.
    case zap

    /// What etcd 3.4 prints once it serves client requests on `address` (`127.0.0.1:2379`), plaintext
    /// or TLS (`secure`), in its order: that `member` was published to its cluster, the capabilities
    /// of version 3.4, then (capnslog) `ready to serve client requests` and the serving line (a notice
    /// with a warning for plaintext), or (zap, which has no readiness line to copy) the serving line.
    /// etcd's own end-to-end harness waits for the first two.
    public func readinessLines(member: MemberAnnouncement, address: String, secure: Bool = false, at date: Date = Date()) -> [String] {
        let attributes = "{Name:\(member.name) ClientURLs:[\(member.clientURLs.joined(separator: " "))]}"
        switch self {
        case .capnslog:
            let time = Self.capnslogTime(date)
            return [
                "\(time) I | etcdserver: published \(attributes) to cluster \(Self.hex(member.clusterID))",
                "\(time) I | etcdserver/api: enabled capabilities for version 3.4",
                "\(time) I | embed: ready to serve client requests",
                secure
                    ? "\(time) I | embed: serving client requests on \(address)"
                    : "\(time) N | embed: serving insecure client requests on \(address), this is strongly discouraged!",
            ]
        case .zap:
            let time = Self.zapTime(date)
            return [
                Self.zapLine(time, [
                    ("msg", "published local member to cluster through raft"), ("local-member-id", Self.hex(member.memberID)),
                    ("local-member-attributes", attributes), ("request-path", "/0/members/\(Self.hex(member.memberID))/attributes"),
                    ("cluster-id", Self.hex(member.clusterID)), ("publish-timeout", "7s"),
                ]),
                Self.zapLine(time, [("msg", "enabled capabilities for version"), ("cluster-version", "3.4")]),
                Self.zapLine(time, [
                    ("msg", secure ? "serving client traffic securely" : "serving client traffic insecurely; this is strongly discouraged!"),
                    ("address", address),
                ]),
            ]
        }
    }

    /// One zap object: level, time and caller, then `fields` (string values, quoted as JSON).
    private static func zapLine(_ time: String, _ fields: [(String, String)]) -> String {
        let all = [("level", "info"), ("ts", time), ("caller", "etcetera/launcher")] + fields
        return "{" + all.map { "\"\($0.0)\":\(jsonString($0.1))" }.joined(separator: ",") + "}"
    }

    /// `text` as a JSON string (a member name may hold anything).
    private static func jsonString(_ text: String) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .withoutEscapingSlashes
        return (try? encoder.encode(text)).map { String(decoding: $0, as: UTF8.self) } ?? "\"\""
    }

    /// etcd's ids as it prints them: lowercase hexadecimal.
    private static func hex(_ id: UInt64) -> String {
        String(id, radix: 16)
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

/// What etcd says of the member when it starts serving: its name, the client URLs it advertises and
/// its ids, in the `published … to cluster …` line.
public struct MemberAnnouncement: Sendable, Hashable {
    public let name: String
    public let clientURLs: [String]
    public let memberID: UInt64
    public let clusterID: UInt64

    public init(name: String, clientURLs: [String], memberID: UInt64, clusterID: UInt64) {
        self.name = name
        self.clientURLs = clientURLs
        self.memberID = memberID
        self.clusterID = clusterID
    }
}
