import EtceteraAPI
import Foundation
import Storage

/// One pass over every record of a committed view, checking that the layout of `StorageLayout`
/// holds together (docs/storage.md, "Integrity check").
///
/// Records are read in storage order with one cursor; the heads (`k`) are read by a second cursor
/// in step with the history (`h`), which sorts by key in the same order. Point lookups are limited
/// to what the order cannot give: the revision record of each live key's head, and the head and
/// attachment behind each lease attachment (and the other way round). History entries and revision
/// records, which sort differently, are matched without lookups: each side sums a hash of every
/// (key, revision, put or deletion) it holds, and the sums agree when the two pair up one to one.
/// Only when they do not are both read again, each record looking up its partner, to name the ones
/// that are unpaired.
///
/// Compaction removes a history entry together with its revision record in one atomic batch, so the
/// pairing holds at every instant, even while a compaction is under way; what it does not keep is
/// every revision at or below the compaction point, so the revision log is checked for gaps above
/// that point only.
struct IntegrityScan {
    private let view: CommittedView
    private let snapshot: any StorageSnapshot
    private let maxKept: Int

    private(set) var problems: [IntegrityProblem] = []
    private(set) var problemCount = 0
    private(set) var records = 0

    /// The stored current revision and compaction point.
    private(set) var currentRevision: Int64 = 1
    private var compactRevision: Int64 = -1
    private var registeredLeases: Set<Int64> = []

    private let heads: any StorageCursor
    private var historyDone = false
    /// The key whose history entries are being read, and its newest entry so far.
    private var group: (key: [UInt8], newest: Revision, isTombstone: Bool)?
    /// History entries and revision records read, each with the sum of their `pairDigest`s: when
    /// they pair up, both sides count and sum the same.
    private var historyEntries = 0
    private var historyDigest: UInt64 = 0
    private var revisionRecords = 0
    private var revisionDigest: UInt64 = 0
    /// The last revision record seen above the compaction point.
    private var lastRevision: Revision?

    init(view: CommittedView, maxKept: Int) {
        self.view = view
        snapshot = view.snapshot
        self.maxKept = maxKept
        heads = snapshot.makeCursor()
    }

    mutating func run() {
        readMetadata(view)
        readRegisteredLeases()
        heads.seek([StorageLayout.headPrefix])
        let cursor = snapshot.makeCursor()
        cursor.seekToFirst()
        while cursor.isValid {
            let key = cursor.key
            let prefix = key.first ?? 0
            if prefix > StorageLayout.historyPrefix { finishHistory() }
            if prefix == StorageLayout.headPrefix {
                // Read alongside the history.
                cursor.seek(StorageLayout.headEnd)
                continue
            }
            records += 1
            switch prefix {
            case StorageLayout.attachmentPrefix: checkAttachment(key, cursor.value)
            case StorageLayout.leasePrefix: checkLease(key, cursor.value)
            case StorageLayout.historyPrefix: checkHistoryEntry(key, cursor.value)
            case StorageLayout.metaPrefix: checkMeta(key, cursor.value)
            case StorageLayout.revisionPrefix: checkRevisionRecord(key, cursor.value)
            default: report(.undecodable, "the record \(Self.describe(key)), whose prefix is unknown")
            }
            cursor.next()
        }
        checkCursor(cursor)
        finishHistory()
        finishRevisionLog()
        if historyEntries != revisionRecords || historyDigest != revisionDigest { findUnpaired() }
    }

    // MARK: Metadata and leases

    /// The number a metadata record holds: nil when it is missing (reported here if `required`) or
    /// does not hold 8 bytes (reported with the metadata records).
    private mutating func meta(_ name: StorageLayout.Meta, required: Bool = false) -> Int64? {
        switch lookup(name.storageKey, "the metadata record \(name.rawValue)") {
        case .found(let bytes): return StorageLayout.decodeInt64(bytes)
        case .missing: if required { report(.metadata, "the metadata record \(name.rawValue) is missing") }
        case .failed: break
        }
        return nil
    }

    /// Reads the revisions the other checks need; where they are unusable, the committed view's stand in.
    private mutating func readMetadata(_ view: CommittedView) {
        currentRevision = view.revision
        compactRevision = view.compactRevision
        if let revision = meta(.currentRevision, required: true) {
            if revision >= 1 { currentRevision = revision } else { report(.metadata, "the current revision is \(revision)") }
        }
        if let revision = meta(.compactRevision) {
            if revision <= currentRevision {
                compactRevision = revision
            } else {
                report(.metadata, "the compaction point \(revision) is above the current revision \(currentRevision)")
            }
        }
        if let revision = meta(.finishedCompactRevision), revision > compactRevision {
            report(.metadata, "the finished compaction \(revision) is above the compaction point \(compactRevision)")
        }
        if let version = meta(.layoutVersion, required: true), version != 1 {
            report(.metadata, "the layout version is \(version), not 1")
        }
    }

    private mutating func checkMeta(_ key: [UInt8], _ value: [UInt8]) {
        let name = String(decoding: key.dropFirst(), as: UTF8.self)
        if StorageLayout.Meta(rawValue: name) != nil {
            if value.count != 8 { report(.metadata, "the metadata record \(name) holds \(value.count) bytes, not 8") }
        } else if name.hasPrefix("alarm/"), StorageLayout.alarmRecord(named: name.dropFirst("alarm/".count)) != nil {
            if !value.isEmpty { report(.metadata, "the alarm record \(name) is not empty") }
        } else {
            report(.metadata, "an unknown metadata record \(Self.describe(Array(key.dropFirst())))")
        }
    }

    private mutating func readRegisteredLeases() {
        let cursor = snapshot.makeCursor()
        cursor.seek([StorageLayout.leasePrefix])
        while cursor.isValid, cursor.key.first == StorageLayout.leasePrefix {
            if let id = StorageLayout.decodeLeaseKey(cursor.key) { registeredLeases.insert(id) }
            cursor.next()
        }
    }

    private mutating func checkLease(_ key: [UInt8], _ value: [UInt8]) {
        guard StorageLayout.decodeLeaseKey(key) != nil, value.isEmpty || value.count == 8 else {
            return report(.undecodable, "the lease record \(Self.describe(key)) (\(value.count)-byte value)")
        }
    }

    private mutating func checkAttachment(_ key: [UInt8], _ value: [UInt8]) {
        guard key.count > 9, value.isEmpty, let lease = StorageLayout.decodeInt64(Array(key[1..<9])) else {
            return report(.undecodable, "the lease attachment record \(Self.describe(key))")
        }
        let attached = Array(key[9...])
        if !registeredLeases.contains(lease) {
            report(.leaseMismatch, "key \(Self.describe(attached)) is attached to lease \(lease), which is not registered")
        }
        switch lookup(StorageLayout.headKey(attached), "the head of key \(Self.describe(attached))") {
        case .missing:
            report(.leaseMismatch, "key \(Self.describe(attached)) is attached to lease \(lease) but does not exist")
        case .found(let bytes):
            guard let head = try? StorageLayout.decodeKeyValue(bytes) else { return }  // reported with the heads
            if head.lease != lease {
                report(.leaseMismatch, "key \(Self.describe(attached)) is attached to lease \(lease) but its head names lease \(head.lease)")
            }
        case .failed:
            break
        }
    }

    // MARK: History and heads

    private mutating func checkHistoryEntry(_ storageKey: [UInt8], _ value: [UInt8]) {
        guard let (key, revision) = StorageLayout.decodeHistoryKey(storageKey), !key.isEmpty,
              Self.isEscaped(storageKey),
              value == StorageLayout.putMarker || value == StorageLayout.tombstoneMarker
        else {
            return report(.undecodable, "the history record \(Self.describe(storageKey))")
        }
        historyEntries += 1
        historyDigest &+= key.withUnsafeBytes { Self.pairDigest($0, revision, isTombstone: value == StorageLayout.tombstoneMarker) }
        if revision.main > currentRevision || revision.main < 2 {
            report(.revisionOutOfRange, "key \(Self.describe(key)) has a history entry at revision \(revision); the store is at \(currentRevision)")
        }
        let isTombstone = value == StorageLayout.tombstoneMarker
        if let group, group.key == key {
            self.group = (key, revision, isTombstone)
        } else {
            finishGroup()
            group = (key, revision, isTombstone)
        }
    }

    /// Checks the heads up to and including the current group's key against its newest entry.
    private mutating func finishGroup() {
        guard let group else { return }
        self.group = nil
        let headKey = StorageLayout.headKey(group.key)
        var current = heads.isValid ? heads.key : []
        while current.first == StorageLayout.headPrefix, current.lexicographicallyPrecedes(headKey) {
            reportHeadWithoutHistory(current)
            heads.next()
            current = heads.isValid ? heads.key : []
        }
        guard current == headKey else {
            if !group.isTombstone {
                report(.missingHead, "key \(Self.describe(group.key)) is live at revision \(group.newest) but has no head record")
            }
            return
        }
        records += 1
        checkHead(heads.value, group)
        heads.next()
    }

    private mutating func checkHead(_ bytes: [UInt8], _ group: (key: [UInt8], newest: Revision, isTombstone: Bool)) {
        let name = Self.describe(group.key)
        guard let head = try? StorageLayout.decodeKeyValue(bytes) else {
            return report(.undecodable, "the head record of key \(name)")
        }
        if group.isTombstone {
            return report(.headMismatch, "key \(name) was deleted at revision \(group.newest) but still has a head record")
        }
        guard head.key.withUnsafeBytes({ Self.equal($0, group.key) }), head.modRevision == group.newest.main, head.version >= 1,
              head.createRevision >= 1, head.createRevision <= head.modRevision
        else {
            return report(.headMismatch, "the head record of key \(name) (key \(Self.describe(Array(head.key))), mod revision \(head.modRevision), create revision \(head.createRevision), version \(head.version)) does not match its newest history entry at revision \(group.newest)")
        }
        // A missing or undecodable revision record is reported with the revision log.
        if case .found(let eventBytes) = lookup(StorageLayout.revisionKey(group.newest), "the revision record at \(group.newest)"),
           !Self.isPutEvent(eventBytes, of: bytes), let event = try? StorageLayout.decodeEvent(eventBytes),
           event.type != .put || event.kv != head {
            report(.headMismatch, "the head record of key \(name) differs from the revision record at \(group.newest)")
        }
        guard head.lease != 0 else { return }
        if !registeredLeases.contains(head.lease) {
            report(.leaseMismatch, "key \(name) names lease \(head.lease), which is not registered")
        }
        if case .missing = lookup(StorageLayout.attachmentKey(head.lease, group.key), "the attachment of key \(name) to lease \(head.lease)") {
            report(.leaseMismatch, "key \(name) names lease \(head.lease) but is not attached to it")
        }
    }

    private mutating func reportHeadWithoutHistory(_ headKey: [UInt8]) {
        records += 1
        report(.headMismatch, "key \(Self.describe(Array(headKey.dropFirst()))) has a head record but no history")
    }

    /// Ends the history: the last group, and heads after every key with history.
    private mutating func finishHistory() {
        guard !historyDone else { return }
        historyDone = true
        finishGroup()
        while heads.isValid, heads.key.first == StorageLayout.headPrefix {
            reportHeadWithoutHistory(heads.key)
            heads.next()
        }
        checkCursor(heads)
    }

    // MARK: Revision log

    private mutating func checkRevisionRecord(_ storageKey: [UInt8], _ value: [UInt8]) {
        guard let revision = StorageLayout.decodeRevisionKey(storageKey) else {
            return report(.undecodable, "the revision record \(Self.describe(storageKey))")
        }
        let floor = max(compactRevision, 1)
        if revision.main > floor {
            let follows = lastRevision.map { revision == Revision(main: $0.main, sub: $0.sub + 1) || revision == Revision(main: $0.main + 1) }
                ?? (revision == Revision(main: floor + 1))
            if !follows {
                let after = lastRevision?.description ?? "\(floor)"
                report(.missingRevision, "the revision log goes from \(after) to \(revision)")
            }
            lastRevision = revision
        }
        guard let event = try? StorageLayout.decodeEvent(value), event.type == .put || event.type == .delete,
              !event.kv.key.isEmpty, event.kv.modRevision == revision.main
        else {
            return report(.undecodable, "the revision record at \(revision) does not hold an event of that revision")
        }
        if revision.main > currentRevision || revision.main < 2 {
            report(.revisionOutOfRange, "a revision record at \(revision) (key \(Self.describe([UInt8](event.kv.key)))); the store is at \(currentRevision)")
        }
        revisionRecords += 1
        revisionDigest &+= event.kv.key.withUnsafeBytes { Self.pairDigest($0, revision, isTombstone: event.type == .delete) }
    }

    private mutating func finishRevisionLog() {
        let floor = max(compactRevision, 1)
        guard currentRevision > floor, (lastRevision?.main ?? floor) < currentRevision else { return }
        let after = lastRevision?.description ?? "\(floor)"
        report(.missingRevision, "the revision log ends at \(after); the store is at \(currentRevision)")
    }

    /// Names the history entries and revision records that do not pair up, looking each one's
    /// partner up (only run when the digests say some exist).
    private mutating func findUnpaired() {
        let revisions = snapshot.makeCursor()
        revisions.seek([StorageLayout.revisionPrefix])
        while revisions.isValid, revisions.key.first == StorageLayout.revisionPrefix {
            if let revision = StorageLayout.decodeRevisionKey(revisions.key),
               let event = try? StorageLayout.decodeEvent(revisions.value), !event.kv.key.isEmpty {
                let key = [UInt8](event.kv.key)
                let marker = event.type == .delete ? StorageLayout.tombstoneMarker : StorageLayout.putMarker
                switch lookup(StorageLayout.historyKey(key, revision), "the history entry of key \(Self.describe(key)) at \(revision)") {
                case .found(let found) where found == marker:
                    break
                case .failed:
                    break
                case .found:
                    report(.historyMismatch, "the revision record at \(revision) is a \(event.type == .delete ? "deletion" : "put") of key \(Self.describe(key)), its history entry is not")
                case .missing:
                    report(.historyMismatch, "the revision record at \(revision) (key \(Self.describe(key))) has no history entry")
                }
            }
            revisions.next()
        }
        checkCursor(revisions)
        let history = snapshot.makeCursor()
        history.seek([StorageLayout.historyPrefix])
        while history.isValid, history.key.first == StorageLayout.historyPrefix {
            if let (key, revision) = StorageLayout.decodeHistoryKey(history.key) {
                switch lookup(StorageLayout.revisionKey(revision), "the revision record at \(revision)") {
                case .missing:
                    report(.historyMismatch, "the history entry of key \(Self.describe(key)) at \(revision) has no revision record")
                case .found(let bytes):
                    if let event = try? StorageLayout.decodeEvent(bytes), !event.kv.key.elementsEqual(key) {
                        report(.historyMismatch, "the history entry of key \(Self.describe(key)) at \(revision) has the revision record of key \(Self.describe(Array(event.kv.key)))")
                    }
                case .failed:
                    break
                }
            }
            history.next()
        }
        checkCursor(history)
    }

    /// One history entry's or revision record's share of its side's digest. Summed, the digests are
    /// independent of order, and a missing, extra or different entry changes a sum but for a chance
    /// of one in 2^64.
    static func pairDigest(_ key: UnsafeRawBufferPointer, _ revision: Revision, isTombstone: Bool) -> UInt64 {
        var hasher = Hasher()
        hasher.combine(revision.main)
        hasher.combine(revision.sub)
        hasher.combine(isTombstone)
        hasher.combine(bytes: key)
        return UInt64(bitPattern: Int64(hasher.finalize()))
    }

    // MARK: Plumbing

    private enum Lookup {
        case found([UInt8])
        case missing
        /// The engine failed to read it (reported).
        case failed
    }

    /// The record at `key`; `what` names it in a report of a read failure.
    private mutating func lookup(_ key: [UInt8], _ what: @autoclosure () -> String) -> Lookup {
        do {
            guard let value = try snapshot.get(key) else { return .missing }
            return .found(value)
        } catch {
            report(.unreadable, "reading \(what()): \(error)")
            return .failed
        }
    }

    private mutating func checkCursor(_ cursor: any StorageCursor) {
        do {
            try cursor.checkError()
        } catch {
            report(.unreadable, "\(error)")
        }
    }

    /// Counts a problem and keeps it if there is room; one already kept (a damaged block is met by
    /// more than one pass) is neither kept nor counted again.
    private mutating func report(_ kind: IntegrityProblem.Kind, _ detail: String) {
        let problem = IntegrityProblem(kind, detail)
        guard !problems.contains(problem) else { return }
        problemCount += 1
        if problems.count < maxKept { problems.append(problem) }
    }

    /// Whether the key part of a history storage key escapes every `00` byte as `00 FF` (decoding
    /// assumes it; the terminator and revision are the last 18 bytes).
    static func isEscaped(_ storageKey: [UInt8]) -> Bool {
        let end = storageKey.count - 18
        var index = 1
        while index < end {
            if storageKey[index] == 0 {
                guard index + 1 < end, storageKey[index + 1] == 0xFF else { return false }
                index += 2
            } else {
                index += 1
            }
        }
        return true
    }

    /// Whether `event` is exactly the encoding of a put event of the encoded key-value `head`, as the
    /// store writes it (field 2, length, the key-value; the put type is the default and not written),
    /// which spares decoding both in the common case. Other encodings are compared decoded.
    static func isPutEvent(_ event: [UInt8], of head: [UInt8]) -> Bool {
        guard event.first == 0x12 else { return false }
        var length = head.count
        var index = 1
        repeat {
            let byte = UInt8(length & 0x7F) | (length > 0x7F ? 0x80 : 0)
            guard index < event.count, event[index] == byte else { return false }
            index += 1
            length >>= 7
        } while length > 0
        guard event.count - index == head.count else { return false }
        return event.withUnsafeBytes { Self.equal(UnsafeRawBufferPointer(rebasing: $0[index...]), head) }
    }

    /// Byte equality with `memcmp`, which the scan needs for every key and value it compares.
    static func equal(_ bytes: UnsafeRawBufferPointer, _ other: [UInt8]) -> Bool {
        guard bytes.count == other.count else { return false }
        guard !other.isEmpty else { return true }
        return other.withUnsafeBytes { memcmp(bytes.baseAddress!, $0.baseAddress!, bytes.count) == 0 }
    }

    /// A key for logs: as text when it is printable ASCII, in hex otherwise; long keys are cut.
    static func describe(_ bytes: [UInt8]) -> String {
        let shown = bytes.prefix(64)
        let cut = bytes.count > shown.count ? "…" : ""
        if shown.allSatisfy({ (0x20...0x7E).contains($0) }) {
            return "\"\(String(decoding: shown, as: UTF8.self))\(cut)\""
        }
        return "0x" + shown.map { String(format: "%02x", $0) }.joined() + cut
    }
}
