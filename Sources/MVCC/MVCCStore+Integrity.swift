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
    /// compaction, which never leaves the store inconsistent. The check changes nothing: when its
    /// report is not clean, `raiseCorruptAlarm()` is the caller's next step.
    public func verifyIntegrity() -> IntegrityReport {
        let started = ContinuousClock.now
        var scan = IntegrityScan(view: committedView, maxKept: Self.reportedProblems)
        scan.run()
        return IntegrityReport(
            revision: scan.currentRevision, recordsChecked: scan.records, duration: ContinuousClock.now - started,
            problems: scan.problems, problemCount: scan.problemCount)
    }

    /// Raises the CORRUPT alarm, as etcd does when its data fails a check: from now on the store refuses
    /// Range, Put, DeleteRange, Txn (read-only ones too), Compaction and lease registration and revoke
    /// with `MVCCError.corrupt`, until the alarm is deactivated. Maintenance (status, alarms, hashes,
    /// defragment, snapshots), event replay and the keys of a lease go on, so an operator can look
    /// and save what is there.
    ///
    /// The alarm is recorded durably, so it survives a restart. If recording fails (a damaged store
    /// may refuse writes) it is in force anyway until the store is closed, and the error is thrown.
    public func raiseCorruptAlarm() throws(MVCCError) {
        do {
            try setAlarm(ownAlarm(.corrupt), active: true)
        } catch {
            alarms.withLock { alarms in
                alarms.insert(ownAlarm(.corrupt))
                corruptAlarm.store(true, ordering: .relaxed)
            }
            throw error
        }
    }

    /// Whether CORRUPT is active: one atomic load, cheap enough for every request.
    var isCorrupt: Bool { corruptAlarm.load(ordering: .relaxed) }

    func refuseWhileCorrupt() throws(MVCCError) {
        if isCorrupt { throw .corruptAlarmActive }
    }
}

extension MVCCError {
    /// What the store answers a KV request with while CORRUPT is active.
    static let corruptAlarmActive = MVCCError.corrupt("the CORRUPT alarm is active")
}
