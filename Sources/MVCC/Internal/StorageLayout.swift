import EtceteraAPI
import Foundation
import SwiftProtobuf

/// How the MVCC store lays out its data in the ordered key-value engine (docs/storage.md):
///
/// - `k` + key → the key's current `KeyValue` (live keys only): head reads touch nothing else.
/// - `h` + escaped key + `00 01` + revision → one byte, put or tombstone: the key's history in
///   revision order, for reads at past revisions and for compaction.
/// - `r` + revision → the `Event` committed at that revision: values of past revisions and the event
///   log that watchers replay.
/// - `m` + name → store metadata (current revision, compaction points, applied index).
/// - `g` + lease ID → its granted TTL (8 bytes BE): a lease the lease service granted, which puts
///   may name.
/// - `a` + lease ID + key → nothing: the key is attached to the lease (its head names it), so that
///   revoking a lease finds its keys without scanning the store.
///
/// Escaping `00` as `00 FF` and ending the key with `00 01` keeps history entries ordered by key
/// first, then revision, for keys of any bytes.
enum StorageLayout {
    static let headPrefix: UInt8 = UInt8(ascii: "k")
    static let historyPrefix: UInt8 = UInt8(ascii: "h")
    static let revisionPrefix: UInt8 = UInt8(ascii: "r")
    static let metaPrefix: UInt8 = UInt8(ascii: "m")
    static let leasePrefix: UInt8 = UInt8(ascii: "g")
    static let attachmentPrefix: UInt8 = UInt8(ascii: "a")

    static let putMarker: [UInt8] = [0]
    static let tombstoneMarker: [UInt8] = [1]

    enum Meta: String {
        case currentRevision = "rev"
        case compactRevision = "compact"
        case finishedCompactRevision = "compact-done"
        case appliedIndex = "applied"
        case layoutVersion = "layout"

        var storageKey: [UInt8] { [StorageLayout.metaPrefix] + Array(rawValue.utf8) }
    }

    /// Where alarm records start: `alarm/<type>/<member id>`, present (empty) while that member's
    /// alarm of that type is active.
    static let alarmKeyPrefix = [metaPrefix] + Array("alarm/".utf8)

    static func alarmKey(_ alarm: Etcdserverpb_AlarmMember) -> [UInt8] {
        alarmKeyPrefix + Array("\(alarm.alarm.rawValue)/\(alarm.memberID)".utf8)
    }

    /// A store written before alarms were kept per member has `alarm/<type>` records: they are the
    /// store's own member's.
    static func legacyAlarmKey(_ alarm: Etcdserverpb_AlarmType) -> [UInt8] {
        alarmKeyPrefix + Array("\(alarm.rawValue)".utf8)
    }

    /// The alarm an alarm record's name (after `alarm/`) stands for; a legacy record names no member
    /// (nil). Nil for a name that is neither.
    static func alarmRecord(named name: Substring) -> (type: Etcdserverpb_AlarmType, member: UInt64?)? {
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        guard let raw = Int(parts[0]), let type = Etcdserverpb_AlarmType(rawValue: raw) else { return nil }
        switch parts.count {
        case 1: return (type, nil)
        case 2: return UInt64(parts[1]).map { (type: type, member: $0) }
        default: return nil
        }
    }

    static func headKey(_ key: [UInt8]) -> [UInt8] {
        [headPrefix] + key
    }

    /// The first storage key after every head key (for `from` ranges).
    static let headEnd: [UInt8] = [headPrefix + 1]

    static func escapedKey(_ key: [UInt8]) -> [UInt8] {
        var result = [historyPrefix]
        result.reserveCapacity(key.count + 20)
        for byte in key {
            result.append(byte)
            if byte == 0 { result.append(0xFF) }
        }
        return result
    }

    /// The prefix shared by every history entry of `key`.
    static func historyKeyPrefix(_ key: [UInt8]) -> [UInt8] {
        escapedKey(key) + [0, 1]
    }

    static func historyKey(_ key: [UInt8], _ revision: Revision) -> [UInt8] {
        historyKeyPrefix(key) + revision.encoded
    }

    /// Splits a history storage key into the user key and revision.
    static func decodeHistoryKey(_ storageKey: [UInt8]) -> (key: [UInt8], revision: Revision)? {
        guard storageKey.count >= 19, storageKey.first == historyPrefix else { return nil }
        let revisionStart = storageKey.count - 16
        guard storageKey[revisionStart - 2] == 0, storageKey[revisionStart - 1] == 1,
              let revision = Revision(encoded: storageKey[revisionStart...])
        else { return nil }
        var key = [UInt8]()
        key.reserveCapacity(revisionStart)
        var index = 1
        while index < revisionStart - 2 {
            let byte = storageKey[index]
            key.append(byte)
            index += byte == 0 ? 2 : 1
        }
        return (key, revision)
    }

    static func revisionKey(_ revision: Revision) -> [UInt8] {
        [revisionPrefix] + revision.encoded
    }

    static func decodeRevisionKey(_ storageKey: [UInt8]) -> Revision? {
        guard storageKey.first == revisionPrefix else { return nil }
        return Revision(encoded: storageKey[1...])
    }

    static let revisionEnd: [UInt8] = [revisionPrefix + 1]

    static func leaseKey(_ id: Int64) -> [UInt8] {
        [leasePrefix] + encodeInt64(id)
    }

    static func decodeLeaseKey(_ storageKey: [UInt8]) -> Int64? {
        guard storageKey.first == leasePrefix else { return nil }
        return decodeInt64(Array(storageKey.dropFirst()))
    }

    /// The prefix of every attachment of lease `id`.
    static func attachmentPrefix(_ id: Int64) -> [UInt8] {
        [attachmentPrefix] + encodeInt64(id)
    }

    static func attachmentKey(_ id: Int64, _ key: [UInt8]) -> [UInt8] {
        attachmentPrefix(id) + key
    }

    static func encodeInt64(_ value: Int64) -> [UInt8] {
        var bytes = [UInt8]()
        bytes.appendBigEndian(UInt64(bitPattern: value))
        return bytes
    }

    static func decodeInt64(_ bytes: [UInt8]?) -> Int64? {
        guard let bytes, bytes.count == 8 else { return nil }
        return Int64(bitPattern: UInt64(bigEndianBytes: bytes[...]))
    }

    static func encode<Message: SwiftProtobuf.Message>(_ message: Message) -> [UInt8] {
        // Serializing a fully initialised proto3 message cannot fail.
        (try? message.serializedBytes()) ?? []
    }

    static func decodeKeyValue(_ bytes: [UInt8]) throws(MVCCError) -> Mvccpb_KeyValue {
        do {
            return try Mvccpb_KeyValue(serializedBytes: bytes)
        } catch {
            throw .corrupt("undecodable key-value record")
        }
    }

    static func decodeEvent(_ bytes: [UInt8]) throws(MVCCError) -> Mvccpb_Event {
        do {
            return try Mvccpb_Event(serializedBytes: bytes)
        } catch {
            throw .corrupt("undecodable event record")
        }
    }
}
