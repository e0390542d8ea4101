import EtceteraAPI

extension Etcdserverpb_AlarmMember {
    /// The alarm as etcd writes it in Status errors, `etcdctl alarm list` and its logs: the compact
    /// text form of the message, zero fields left out, each field followed by a space
    /// (`memberID:17822618399489351662 alarm:NOSPACE `). Scripts match on it.
    public var etcdText: String {
        var text = ""
        if memberID != 0 { text += "memberID:\(memberID) " }
        switch alarm {
        case .none: break
        case .nospace: text += "alarm:NOSPACE "
        case .corrupt: text += "alarm:CORRUPT "
        case .UNRECOGNIZED(let raw): text += "alarm:\(raw) "
        }
        return text
    }
}
