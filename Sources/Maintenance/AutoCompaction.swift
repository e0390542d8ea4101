import ServiceSupport

/// etcd's `--auto-compaction-mode` and `--auto-compaction-retention`, read as etcd reads them.
public enum AutoCompaction: Sendable, Hashable {
    /// Keep about `retention` of history: compact to the revision current that long ago.
    case periodic(retention: Duration)
    /// Keep the last `retention` revisions.
    case revision(retention: Int64)

    /// The configured auto-compaction, or nil when it is off (retention `0`, etcd's default).
    ///
    /// A plain integer is hours in periodic mode and a count in revision mode; anything else is a Go
    /// duration, which revision mode takes as a count of nanoseconds, as etcd does.
    /// - Throws: ``AutoCompactionError`` with etcd's message for an unknown mode or a bad retention.
    public init?(mode: String, retention: String) throws(AutoCompactionError) {
        guard mode == "periodic" || mode == "revision" else { throw .unknownMode(mode) }
        let nanoseconds: Int64
        if let integer = Int64(retention), integer >= 0, mode == "revision" {
            nanoseconds = integer
        } else if let hours = Int64(retention), hours >= 0 {
            let (product, overflow) = hours.multipliedReportingOverflow(by: 3_600_000_000_000)
            guard !overflow else { throw .invalidRetention(retention, "invalid duration") }
            nanoseconds = product
        } else if let parsed = GoDuration.nanoseconds(retention) {
            nanoseconds = parsed
        } else {
            let reason = retention.last?.isNumber == true ? "missing unit in duration" : "invalid duration"
            throw .invalidRetention(retention, reason)
        }
        guard nanoseconds != 0 else { return nil }
        guard nanoseconds > 0 else { throw .invalidRetention(retention, "negative duration") }
        self = mode == "periodic" ? .periodic(retention: .nanoseconds(nanoseconds)) : .revision(retention: nanoseconds)
    }

    /// A fresh schedule for this configuration, starting from `revision`.
    public func makeSchedule(startingRevision revision: Int64) -> any AutoCompactionSchedule {
        switch self {
        case .periodic(let retention): PeriodicCompactionSchedule(retention: retention, startingRevision: revision)
        case .revision(let retention): RevisionCompactionSchedule(retention: retention)
        }
    }
}

/// A configuration etcd refuses to start with; `description` is etcd's message.
public enum AutoCompactionError: Error, Sendable, Hashable, CustomStringConvertible {
    case unknownMode(String)
    case invalidRetention(String, String)

    public var description: String {
        switch self {
        case .unknownMode(let mode): "unknown auto-compaction-mode \"\(mode)\""
        case .invalidRetention(let text, let reason): "error parsing CompactionRetention: time: \(reason) \"\(text)\""
        }
    }
}

/// When to compact and to which revision. The maintenance service calls ``tick(elapsed:revision:)``
/// every ``tickInterval`` with the store's current revision, compacts to the revision it returns, and
/// reports the outcome; the schedules themselves never touch a clock, so tests drive them.
public protocol AutoCompactionSchedule: Sendable {
    var tickInterval: Duration { get }
    /// `elapsed` is the time since the schedule started. Returns the revision to compact to now, if any.
    mutating func tick(elapsed: Duration, revision: Int64) -> Int64?
    /// The compaction to `revision` asked for at `elapsed` succeeded, or found the revision compacted
    /// already (both count as done, as in etcd); otherwise it is retried at a later tick.
    mutating func finished(revision: Int64, elapsed: Duration, succeeded: Bool)
}

/// etcd's periodic compactor: samples the revision every tenth of min(retention, 1h), first compacts
/// once the retention has passed, then every min(retention, 1h), each time to the oldest sample kept,
/// the revision current about one retention ago.
public struct PeriodicCompactionSchedule: AutoCompactionSchedule {
    public let retention: Duration
    public let tickInterval: Duration
    private let compactInterval: Duration
    private let samplesKept: Int
    private var samples: [Int64]
    private var lastSuccess: Duration = .zero
    private var waitsForFirstRetention = true

    public init(retention: Duration, startingRevision: Int64) {
        self.retention = retention
        compactInterval = min(retention, .seconds(3600))
        tickInterval = compactInterval / 10
        samplesKept = Int(retention / tickInterval) + 1
        samples = [startingRevision]
    }

    public mutating func tick(elapsed: Duration, revision: Int64) -> Int64? {
        defer {
            samples.append(revision)
            if samples.count > samplesKept { samples.removeFirst(samples.count - samplesKept) }
        }
        let interval = waitsForFirstRetention ? retention : compactInterval
        guard elapsed - lastSuccess >= interval else { return nil }
        waitsForFirstRetention = false
        return samples[0]
    }

    public mutating func finished(revision: Int64, elapsed: Duration, succeeded: Bool) {
        if succeeded { lastSuccess = elapsed }
    }
}

/// etcd's revision compactor: every five minutes, compacts to the current revision less the
/// retention, unless that is not positive or is where the last compaction went.
public struct RevisionCompactionSchedule: AutoCompactionSchedule {
    public let retention: Int64
    public let tickInterval: Duration
    private var lastCompacted: Int64 = 0

    public init(retention: Int64, tickInterval: Duration = .seconds(300)) {
        self.retention = retention
        self.tickInterval = tickInterval
    }

    public mutating func tick(elapsed: Duration, revision: Int64) -> Int64? {
        let (target, overflow) = revision.subtractingReportingOverflow(retention)
        guard !overflow, target > 0, target != lastCompacted else { return nil }
        return target
    }

    public mutating func finished(revision: Int64, elapsed: Duration, succeeded: Bool) {
        if succeeded { lastCompacted = revision }
    }
}
