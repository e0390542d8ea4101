/// What `MVCCStore.verifyIntegrity()` found: how much it read, how long it took, and the first few
/// problems.
public struct IntegrityReport: Sendable, CustomStringConvertible {
    /// The committed revision of the view that was checked.
    public let revision: Int64
    /// Storage records read (every record once, whatever its kind).
    public let recordsChecked: Int
    public let duration: Duration
    /// The first problems found, in the order the scan met them (at most `MVCCStore.reportedProblems`).
    public let problems: [IntegrityProblem]
    /// Every problem found, including those not kept in `problems` (a repeat of a kept one counts once).
    public let problemCount: Int

    /// No problem found: the store may serve.
    public var isClean: Bool { problemCount == 0 }

    public var description: String {
        let shown = problems.map(\.description).joined(separator: "; ")
        let more = problemCount > problems.count ? "; and \(problemCount - problems.count) more" : ""
        return isClean ? "no problems" : "\(problemCount) problem(s): \(shown)\(more)"
    }
}

/// One inconsistency in the stored data (docs/storage.md, "Integrity check").
public struct IntegrityProblem: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        /// The storage engine reported corruption or an I/O failure while reading.
        case unreadable
        /// A record that does not decode as its prefix and place say, or with an unknown prefix.
        case undecodable
        /// Store metadata missing or contradicting itself (revision, compaction points, layout).
        case metadata
        /// A head (`k`) record that does not match its key's newest history entry or the revision
        /// record there, or a head without any history.
        case headMismatch
        /// A key whose newest history entry is a put but which has no head record.
        case missingHead
        /// A history (`h`) entry and the revision (`r`) record at its revision that do not pair up: one
        /// is missing, or they name different keys, or one is a put and the other a deletion.
        case historyMismatch
        /// A history entry or revision record above the store's current revision (or at revision 1
        /// or below, where no write can be).
        case revisionOutOfRange
        /// A revision above the compaction point missing from the revision log.
        case missingRevision
        /// A lease attachment (`a`) that its key's head does not confirm, a head naming a lease without
        /// its attachment, or either naming a lease that is not registered (`g`).
        case leaseMismatch
    }

    public let kind: Kind
    /// What was found where, for logs.
    public let detail: String

    public init(_ kind: Kind, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }

    public var description: String { "\(kind.rawValue): \(detail)" }
}
