/// Why a snapshot could not be written or read. Opaque so kinds can be added; `description` is the
/// sentence an operator sees, saying what is wrong with which file.
public struct SnapshotError: Error, Sendable, Hashable, CustomStringConvertible {
    private enum Kind: Sendable, Hashable {
        case unreadable
        case writeFailed
        case truncated
        case wrongMagic
        case checksumMismatch
        case malformed
    }

    private let kind: Kind
    public let detail: String

    private init(_ kind: Kind, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }

    /// The file cannot be opened or read.
    public static func unreadable(_ detail: String) -> SnapshotError { SnapshotError(.unreadable, detail) }
    /// The file cannot be created or written.
    public static func writeFailed(_ detail: String) -> SnapshotError { SnapshotError(.writeFailed, detail) }
    /// The file is shorter (or longer) than a complete snapshot can be.
    public static func truncated(_ detail: String) -> SnapshotError { SnapshotError(.truncated, detail) }
    /// The file does not start with the snapshot magic: it is not an Etcetera snapshot.
    public static func wrongMagic(_ detail: String) -> SnapshotError { SnapshotError(.wrongMagic, detail) }
    /// The body does not hash to the checksum at the end: the file is corrupted.
    public static func checksumMismatch(_ detail: String) -> SnapshotError { SnapshotError(.checksumMismatch, detail) }
    /// The checksum holds but the body does not parse (or disagrees with its trailer).
    public static func malformed(_ detail: String) -> SnapshotError { SnapshotError(.malformed, detail) }

    public var description: String {
        switch kind {
        case .unreadable: "cannot read snapshot: \(detail)"
        case .writeFailed: "cannot write snapshot: \(detail)"
        case .truncated: "snapshot is truncated: \(detail)"
        case .wrongMagic: "not an Etcetera snapshot: \(detail)"
        case .checksumMismatch: "snapshot is corrupted: \(detail)"
        case .malformed: "snapshot is malformed: \(detail)"
        }
    }

    public static func == (lhs: SnapshotError, rhs: SnapshotError) -> Bool { lhs.kind == rhs.kind }
    public func hash(into hasher: inout Hasher) { hasher.combine(kind) }
}
