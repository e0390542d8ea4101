import EtceteraAPI
import Storage

extension MVCCStore {
    /// How many problems an `IntegrityReport` lists; the others are only counted.
    public static let reportedProblems = 10

    /// Reads every record of the last committed view once, with the storage engine verifying its
    /// checksums, and checks that the layout of docs/storage.md holds together: every record decodes;
    /// each head matches its key's newest history entry and the revision record there, and every live
    /// key has its head; history entries and revision records pair up one to one; no revision is above
    /// the current one, and none is missing above the compaction point; lease attachments, heads
    /// naming leases and registered leases agree; the metadata is consistent.
    ///
    /// Reads and writes may go on meanwhile (the check sees one committed revision), and so may a
    /// compaction, which never leaves the store inconsistent. The check changes nothing.
    public func verifyIntegrity() -> IntegrityReport {
        let started = ContinuousClock.now
        var scan = IntegrityScan(view: committedView, maxKept: Self.reportedProblems)
        scan.run()
        return IntegrityReport(
            revision: scan.currentRevision, recordsChecked: scan.records, duration: ContinuousClock.now - started,
            problems: scan.problems, problemCount: scan.problemCount)
    }
}
