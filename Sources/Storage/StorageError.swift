/// A failure of the storage engine. Opaque so new kinds can be added without breaking callers.
public struct StorageError: Error, Sendable, Hashable, CustomStringConvertible {
    private enum Kind: Sendable, Hashable {
        case openFailed
        case ioFailed
        case corrupted
    }

    private let kind: Kind
    /// The engine's own explanation, kept for logs.
    public let detail: String

    private init(_ kind: Kind, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }

    /// The database could not be opened (missing directory, lock held by another process, bad options).
    public static func openFailed(_ detail: String) -> StorageError { StorageError(.openFailed, detail) }
    /// A read or write failed; the write that reported it did not become durable.
    public static func ioFailed(_ detail: String) -> StorageError { StorageError(.ioFailed, detail) }
    /// Stored bytes failed a checksum or could not be decoded.
    public static func corrupted(_ detail: String) -> StorageError { StorageError(.corrupted, detail) }

    public var isCorruption: Bool { kind == .corrupted }

    public var description: String {
        switch kind {
        case .openFailed: "storage open failed: \(detail)"
        case .ioFailed: "storage I/O failed: \(detail)"
        case .corrupted: "storage corrupted: \(detail)"
        }
    }

    public static func == (lhs: StorageError, rhs: StorageError) -> Bool { lhs.kind == rhs.kind }
    public func hash(into hasher: inout Hasher) { hasher.combine(kind) }
}
