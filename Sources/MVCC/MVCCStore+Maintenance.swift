import EtceteraAPI
import Storage

extension MVCCStore {
    /// The alarms in force, in etcd's order (NOSPACE before CORRUPT). They survive restarts.
    public var activeAlarms: [Etcdserverpb_AlarmType] {
        alarms.withLock { $0.sorted { $0.rawValue < $1.rawValue } }
    }

    /// etcd's Alarm call for this store: GET lists the active alarms, ACTIVATE and DEACTIVATE change
    /// one and answer with it (nothing when it did not apply); any other action is refused (etcd
    /// panics on it). Alarms are kept without member ids; the maintenance service, which knows the
    /// member, stamps them.
    public func alarm(_ request: Etcdserverpb_AlarmRequest) throws(MVCCError) -> Etcdserverpb_AlarmResponse {
        var response = Etcdserverpb_AlarmResponse()
        func member(_ alarm: Etcdserverpb_AlarmType) -> Etcdserverpb_AlarmMember {
            var member = Etcdserverpb_AlarmMember()
            member.alarm = alarm
            return member
        }
        switch request.action {
        case .get:
            response.alarms = activeAlarms.map(member)
        case .activate:
            guard request.alarm != .none else { break }
            try setAlarm(request.alarm, active: true)
            response.alarms = [member(request.alarm)]
        case .deactivate:
            guard alarms.withLock({ $0.contains(request.alarm) }) else { break }
            try setAlarm(request.alarm, active: false)
            response.alarms = [member(request.alarm)]
        case .UNRECOGNIZED:
            throw .undefinedAlarmAction
        }
        return response
    }

    /// Registers the observer of alarm changes (the kv service logs them, as etcd does).
    public func onAlarmChange(_ observer: @escaping AlarmObserver) {
        alarmObserver.withLock { $0 = observer }
    }

    /// Records an alarm change durably before it takes effect, then tells the observer.
    func setAlarm(_ alarm: Etcdserverpb_AlarmType, active: Bool) throws(MVCCError) {
        let changed = try alarms.withLock { alarms throws(MVCCError) -> Bool in
            guard alarms.contains(alarm) != active else { return false }
            var batch = WriteBatch()
            if active {
                batch.put(StorageLayout.alarmKey(alarm), [])
            } else {
                batch.delete(StorageLayout.alarmKey(alarm))
            }
            do throws(StorageError) {
                try storage.write(batch, sync: configuration.syncWrites)
            } catch {
                throw MVCCError(storage: error)
            }
            if active { alarms.insert(alarm) } else { alarms.remove(alarm) }
            corruptAlarm.store(alarms.contains(.corrupt), ordering: .relaxed)
            return true
        }
        if changed, let observer = alarmObserver.withLock({ $0 }) { observer(alarm, active) }
    }

    /// The writer's quota gate for a write of `cost` (see `WriteRequest.quotaCost`): refused while
    /// NOSPACE is active, and refused with NOSPACE raised when it does not fit. Free writes pass.
    /// A nearly full disk refuses with NOSPACE's answer too but raises no alarm (recording one is a
    /// write, and the disk may fill up and empty again without the operator): writing resumes by
    /// itself once space is freed (docs/reliability.md).
    func admitsWrite(cost: Int64) -> Bool {
        guard cost > 0 else { return true }
        if storage.isNearlyFull { return false }
        if alarms.withLock({ $0.contains(.nospace) }) { return false }
        guard let quota, !quota.admits(cost: cost) else { return true }
        try? setAlarm(.nospace, active: true)
        return false
    }

    /// etcd's Defragment: has the storage engine rewrite its files so that space freed by deletions
    /// and compaction is returned to the file system. Reads and writes continue meanwhile; it returns
    /// when the rewrite is complete.
    public func defragment() {
        storage.compact(from: nil, to: nil)
    }
}
