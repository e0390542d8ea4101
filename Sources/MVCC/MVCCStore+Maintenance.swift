import EtceteraAPI
import Storage

extension MVCCStore {
    /// The alarms in force, each a member's alarm of one type, by type (NOSPACE before CORRUPT) and
    /// member. They survive restarts.
    public var activeAlarms: [Etcdserverpb_AlarmMember] {
        alarms.withLock { alarms in
            alarms.sorted { ($0.alarm.rawValue, $0.memberID) < ($1.alarm.rawValue, $1.memberID) }
        }
    }

    /// Whether some member's alarm of `type` is active: one is enough to take effect (NOSPACE refuses
    /// writes, CORRUPT requests), as in etcd.
    public func isAlarmActive(_ type: Etcdserverpb_AlarmType) -> Bool {
        alarms.withLock { $0.contains { $0.alarm == type } }
    }

    /// etcd's Alarm call: alarms are kept per member id (0 included) and type. GET lists the active
    /// alarms, of every type or of the one asked for; ACTIVATE records the member's alarm and answers
    /// with it (NONE does nothing); DEACTIVATE removes it and answers with it, or with nothing when the
    /// member has no such alarm. Any other action is refused (etcd panics on it).
    public func alarm(_ request: Etcdserverpb_AlarmRequest) throws(MVCCError) -> Etcdserverpb_AlarmResponse {
        var response = Etcdserverpb_AlarmResponse()
        var alarm = Etcdserverpb_AlarmMember()
        alarm.memberID = request.memberID
        alarm.alarm = request.alarm
        switch request.action {
        case .get:
            response.alarms = activeAlarms.filter { request.alarm == .none || $0.alarm == request.alarm }
        case .activate:
            guard request.alarm != .none else { break }
            try setAlarm(alarm, active: true)
            response.alarms = [alarm]
        case .deactivate:
            guard alarms.withLock({ $0.contains(alarm) }) else { break }
            try setAlarm(alarm, active: false)
            response.alarms = [alarm]
        case .UNRECOGNIZED:
            throw .undefinedAlarmAction
        }
        return response
    }

    /// Registers the observer of alarm changes (the kv service logs them, as etcd does).
    public func onAlarmChange(_ observer: @escaping AlarmObserver) {
        alarmObserver.withLock { $0 = observer }
    }

    /// This store's member's alarm of `type`.
    func ownAlarm(_ type: Etcdserverpb_AlarmType) -> Etcdserverpb_AlarmMember {
        var alarm = Etcdserverpb_AlarmMember()
        alarm.memberID = configuration.memberID
        alarm.alarm = type
        return alarm
    }

    /// Records an alarm change durably before it takes effect, then tells the observer. The record of
    /// a store written before alarms were kept per member goes with the member's own alarm.
    func setAlarm(_ alarm: Etcdserverpb_AlarmMember, active: Bool) throws(MVCCError) {
        let changed = try alarms.withLock { alarms throws(MVCCError) -> Bool in
            guard alarms.contains(alarm) != active else { return false }
            var batch = WriteBatch()
            if active {
                batch.put(StorageLayout.alarmKey(alarm), [])
            } else {
                batch.delete(StorageLayout.alarmKey(alarm))
                if alarm.memberID == configuration.memberID { batch.delete(StorageLayout.legacyAlarmKey(alarm.alarm)) }
            }
            do throws(StorageError) {
                try storage.write(batch, sync: configuration.syncWrites)
            } catch {
                throw MVCCError(storage: error)
            }
            if active { alarms.insert(alarm) } else { alarms.remove(alarm) }
            corruptAlarm.store(alarms.contains { $0.alarm == .corrupt }, ordering: .relaxed)
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
        if isAlarmActive(.nospace) { return false }
        guard let quota, !quota.admits(cost: cost) else { return true }
        try? setAlarm(ownAlarm(.nospace), active: true)
        return false
    }

    /// etcd's Defragment: has the storage engine rewrite its files so that space freed by deletions
    /// and compaction is returned to the file system. Reads and writes continue meanwhile; it returns
    /// when the rewrite is complete.
    public func defragment() {
        storage.compact(from: nil, to: nil)
    }
}
