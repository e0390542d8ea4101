import EtceteraAPI
import Foundation
import SwiftProtobuf

/// The watch fan-out's logic: sessions and their watchers, matching each committed revision to the
/// watchers in step, and bringing watchers that are behind (a past start revision, a paused session,
/// a gap in the event stream) up to date from the store's history, as etcd's synced/unsynced groups do.
///
/// Not thread-safe: its owner calls it from one serial queue. It never blocks; history is asked for
/// through `fetchHistory` and handed back with ``historyArrived(_:)`` or ``historyFailed()``.
public final class WatchHub {
    public struct Configuration: Sendable {
        /// How much a session's outputs on their way to the client may charge together
        /// (`SessionOutput.windowCharge`: about their bytes) before it is paused. A megabyte keeps a
        /// stream's many watchers of one key a few dozen revisions ahead of its client, and bounds
        /// what a client that stops reading makes the gateway hold.
        public var sessionWindow = 1 << 20
        /// Revisions asked for per history request (etcd's `watchBatchMaxRevs`).
        public var revisionsPerFetch: Int64 = 1000
        /// A session not kept alive for this long belongs to a gateway that is gone.
        public var sessionTimeout: Duration = .seconds(10)

        public init() {}
    }

    public enum Failure: Error, Equatable {
        case unknownSession
    }

    public private(set) var currentRevision: Int64
    private let configuration: Configuration
    private let fetchHistory: (_ from: Int64, _ through: Int64) -> Void
    private var sessions: [UInt64: Session] = [:]
    private var inStep = WatcherIndex()
    private var behind: [ObjectIdentifier: Watcher] = [:]
    /// The revisions of the history request in flight, if one is.
    private var fetching: ClosedRange<Int64>?

    /// Starts at the store's revision; `fetchHistory(from, through)` asks the store for the committed
    /// revisions in `[from, through]`.
    public init(
        currentRevision: Int64, configuration: Configuration = .init(),
        fetchHistory: @escaping (_ from: Int64, _ through: Int64) -> Void
    ) {
        self.currentRevision = currentRevision
        self.configuration = configuration
        self.fetchHistory = fetchHistory
    }

    public var sessionCount: Int { sessions.count }
    public var watcherCount: Int { sessions.values.reduce(0) { $0 + $1.watchers.count } }

    // MARK: Sessions

    public func openSession(
        _ request: Etcetera_Watch_OpenSession, now: ContinuousClock.Instant = .now,
        output: @escaping (Etcetera_Watch_SessionOutput) -> Void
    ) {
        if let existing = sessions[request.session] { close(existing) }
        sessions[request.session] = Session(
            id: request.session, maxResponseBytes: Int(clamping: request.maxResponseBytes),
            nextWatchID: request.nextWatchID, now: now, output: output)
    }

    public func closeSession(_ id: UInt64) {
        if let session = sessions[id] { close(session) }
    }

    public func keep(_ ids: [UInt64], now: ContinuousClock.Instant = .now) {
        for id in ids { sessions[id]?.lastKept = now }
    }

    /// Closes sessions whose gateway stopped keeping them; returns their ids.
    @discardableResult
    public func closeAbandonedSessions(now: ContinuousClock.Instant = .now) -> [UInt64] {
        let abandoned = sessions.values.filter { $0.lastKept.duration(to: now) > configuration.sessionTimeout }
        abandoned.forEach(close)
        return abandoned.map(\.id)
    }

    private func close(_ session: Session) {
        for watcher in session.watchers.values { detach(watcher) }
        session.watchers = [:]
        sessions[session.id] = nil
    }

    // MARK: Client requests

    public func addWatcher(_ request: Etcetera_Watch_AddWatcher) throws(Failure) {
        guard let session = sessions[request.session] else { throw .unknownSession }
        let range = WatchKeyRange(key: request.key, rangeEnd: request.rangeEnd)
        if range.isEmpty {
            return refuseCreation(request, in: session, reason: "mvcc: watcher range is empty")
        }
        let id: Int64
        if request.watchID == 0 && !request.resumed {
            id = session.takeWatchID()
        } else if session.watchers[request.watchID] != nil {
            return refuseCreation(request, in: session, reason: "mvcc: duplicate watch ID provided on the WatchStream")
        } else {
            id = request.watchID
        }
        // The store's revision as far as anyone told: the event stream, or the gateway for the client.
        let storeRevision = max(currentRevision, request.storeRevision)
        let start = request.startRevision == 0 ? storeRevision + 1 : request.startRevision
        let watcher = Watcher(id: id, session: session, request: request, startRevision: start, inStep: start > currentRevision)
        session.watchers[id] = watcher
        if !request.resumed {
            var response = Etcdserverpb_WatchResponse()
            response.header.revision = storeRevision
            response.watchID = id
            response.created = true
            send(response, to: session, watchID: id, created: true, nextRevision: start)
        }
        if watcher.isInStep {
            inStep.insert(watcher)
        } else {
            behind[ObjectIdentifier(watcher)] = watcher
            catchUp()
        }
    }

    /// Answers a create that cannot be served. A watcher the client created earlier and the gateway
    /// re-creates here (`resumed`) was answered `created` long ago: it ends as a cancel of its own id,
    /// since a second `created` would match no create of the client's (clientv3 crashes on one).
    private func refuseCreation(_ request: Etcetera_Watch_AddWatcher, in session: Session, reason: String) {
        var response = Etcdserverpb_WatchResponse()
        response.header.revision = currentRevision
        response.canceled = true
        response.cancelReason = reason
        guard !request.resumed else {
            response.watchID = request.watchID
            return send(response, to: session, watchID: request.watchID, removed: true)
        }
        response.watchID = -1
        response.created = true
        send(response, to: session, watchID: -1, created: true)
    }

    public func cancelWatcher(_ request: Etcetera_Watch_CancelWatcher) throws(Failure) {
        guard let session = sessions[request.session] else { throw .unknownSession }
        guard let watcher = session.watchers[request.watchID] else { return }
        remove(watcher)
        var response = Etcdserverpb_WatchResponse()
        response.header.revision = currentRevision
        response.watchID = watcher.id
        response.canceled = true
        send(response, to: session, watchID: watcher.id, removed: true)
    }

    /// The client's WatchProgressRequest: the current revision, for no watcher in particular.
    public func requestProgress(_ request: Etcetera_Watch_SessionProgressRequest) throws(Failure) {
        guard let session = sessions[request.session] else { throw .unknownSession }
        var response = Etcdserverpb_WatchResponse()
        response.header.revision = currentRevision
        response.watchID = -1
        send(response, to: session, watchID: -1)
    }

    public func credit(_ request: Etcetera_Watch_Credit) throws(Failure) {
        guard let session = sessions[request.session] else { throw .unknownSession }
        // A negative credit from the bus counts as none (subtracting Int.min would trap).
        session.undelivered = max(0, session.undelivered - Int(clamping: max(request.deliveredCharge, 0)))
        if session.isPaused, session.undelivered <= configuration.sessionWindow / 2 {
            session.isPaused = false
            catchUp()
        }
    }

    // MARK: The store

    /// One committed revision from the kv event stream. Revisions at or below the current one are
    /// duplicates and ignored; a revision past the next one means some were missed, and every watcher
    /// catches up from history.
    public func apply(_ revision: Etcetera_Kv_RevisionEvents) {
        guard revision.revision > currentRevision else { return }
        if revision.revision > currentRevision + 1 {
            fallBehindAll(from: currentRevision + 1)
            currentRevision = revision.revision
            catchUp()
            return
        }
        currentRevision = revision.revision
        // Each watcher's events, as positions in the revision: watchers that see the same events the
        // same way share one encoding of them.
        var matches: [ObjectIdentifier: (watcher: Watcher, events: [Int])] = [:]
        var order: [ObjectIdentifier] = []
        for (position, event) in revision.events.enumerated() {
            inStep.forEachWatcher(of: event.kv.key) { watcher in
                guard revision.revision >= watcher.nextRevision, watcher.view(of: event) != nil else { return }
                let key = ObjectIdentifier(watcher)
                if matches[key] == nil {
                    matches[key] = (watcher, [position])
                    order.append(key)
                } else {
                    matches[key]!.events.append(position)
                }
            }
        }
        var encodedEvents: [SharedEvents: Data] = [:]
        for key in order {
            let (watcher, positions) = matches[key]!
            if watcher.session.isPaused {
                fallBehind(watcher, from: revision.revision)
                continue
            }
            let shared = SharedEvents(positions: positions, withPrevKV: watcher.wantsPrevKV)
            let events: Data
            if let encoded = encodedEvents[shared] {
                events = encoded
            } else {
                var eventsOnly = Etcdserverpb_WatchResponse()
                eventsOnly.events = positions.compactMap { watcher.view(of: revision.events[$0]) }
                events = Self.encode(eventsOnly)
                encodedEvents[shared] = events
            }
            deliver(events: events, count: positions.count, revision: revision.revision, nextRevision: revision.revision + 1,
                    from: watcher) { positions.compactMap { watcher.view(of: revision.events[$0]) } }
        }
        if !behind.isEmpty { catchUp() }
    }

    /// What makes two watchers' views of one revision the same bytes: the events they match, and
    /// whether they keep each event's previous value (filters only decide which events match).
    private struct SharedEvents: Hashable {
        let positions: [Int]
        let withPrevKV: Bool
    }

    /// A heartbeat from the store: its revision. A revision past ours means messages were lost. (The
    /// compaction point is not kept: a watcher that needs compacted history learns it from the
    /// store's answer to the history request, as it is then.)
    public func storeStatus(revision: Int64) {
        if revision > currentRevision {
            fallBehindAll(from: currentRevision + 1)
            currentRevision = revision
            catchUp()
        }
    }

    // MARK: Progress

    /// etcd's progress notification: every watcher that asked for it and was sent nothing since the
    /// last tick gets the current revision, if it is in step.
    public func progressTick() {
        for session in sessions.values where !session.isPaused {
            for watcher in session.watchers.values where watcher.wantsProgress {
                if !watcher.sentSinceProgressTick, watcher.isInStep {
                    var response = Etcdserverpb_WatchResponse()
                    response.header.revision = currentRevision
                    response.watchID = watcher.id
                    send(response, to: session, watchID: watcher.id, nextRevision: max(currentRevision + 1, watcher.nextRevision))
                }
                watcher.sentSinceProgressTick = false
            }
        }
    }

    /// Tells each gateway how far its sessions' watchers are, so a session moved to another process
    /// resumes from there instead of from the last event.
    public func reportSessionProgress() {
        for session in sessions.values where !session.watchers.isEmpty {
            var progress = Etcetera_Watch_SessionProgress()
            progress.syncedThrough = currentRevision
            progress.behind = session.watchers.values.filter { !$0.isInStep }.map(\.id).sorted()
            guard progress != session.lastReportedProgress else { continue }
            session.lastReportedProgress = progress
            var output = Etcetera_Watch_SessionOutput()
            output.progress = progress
            session.output(output)
        }
    }

    // MARK: Catching up

    private func fallBehindAll(from revision: Int64) {
        for watcher in inStep.allWatchers { fallBehind(watcher, from: revision) }
    }

    private func fallBehind(_ watcher: Watcher, from revision: Int64) {
        guard watcher.isInStep else { return }
        inStep.remove(watcher)
        watcher.isInStep = false
        watcher.nextRevision = max(revision, watcher.nextRevision)
        behind[ObjectIdentifier(watcher)] = watcher
    }

    private var watchersReadyToCatchUp: [Watcher] {
        behind.values.filter { !$0.session.isPaused }
    }

    /// Asks for the history the furthest-behind watcher needs, or moves watchers that need none back
    /// in step. One request at a time; each answer serves every watcher behind. A watcher that needs
    /// compacted history is answered from the store's reply too, which names the compaction point as
    /// it is now (the one heard last may have moved since), as etcd reports it.
    private func catchUp() {
        guard fetching == nil else { return }
        let ready = watchersReadyToCatchUp
        for watcher in ready where watcher.nextRevision > currentRevision {
            rejoin(watcher)
        }
        guard let from = ready.filter({ !$0.isInStep }).map(\.nextRevision).min() else { return }
        let through = min(currentRevision, from + configuration.revisionsPerFetch - 1)
        fetching = from...through
        fetchHistory(from, through)
    }

    /// History for the last request: each watcher behind gets its events from it in one response
    /// (etcd's unsynced watchers get the same), then the next request goes out.
    public func historyArrived(_ batch: Etcetera_Kv_EventBatch) {
        guard let asked = fetching else { return }
        fetching = nil
        if batch.revisions.isEmpty, batch.compactRevision > 0, watchersReadyToCatchUp.contains(where: { $0.nextRevision < batch.compactRevision }) {
            reportCompaction(batch.compactRevision)
            return catchUp()
        }
        // Only watchers that need nothing before the batch can be served from it: one that fell behind
        // further back while it was on its way (a session resumed from a dead process) waits for the
        // next request, which starts where it needs.
        let served = watchersReadyToCatchUp.filter { $0.nextRevision >= asked.lowerBound }
        guard let last = batch.revisions.last?.revision else {
            // Nothing was committed in the asked range: the watchers it serves are past it.
            for watcher in served { watcher.nextRevision = max(watcher.nextRevision, asked.upperBound + 1) }
            return catchUp()
        }
        // Watchers that ask the same of the batch (a stream's watchers of one key, paused and resumed
        // together) are answered from one pass over it and one encoding.
        var answers: [CatchUpQuestion: (events: [Mvccpb_Event], encoded: Data)] = [:]
        for watcher in served where watcher.nextRevision <= last {
            let question = CatchUpQuestion(watcher)
            let answer: (events: [Mvccpb_Event], encoded: Data)
            if let known = answers[question] {
                answer = known
            } else {
                var eventsOnly = Etcdserverpb_WatchResponse()
                for revision in batch.revisions where revision.revision >= watcher.nextRevision {
                    for event in revision.events where watcher.range.contains(event.kv.key) {
                        if let view = watcher.view(of: event) { eventsOnly.events.append(view) }
                    }
                }
                answer = (eventsOnly.events, eventsOnly.events.isEmpty ? Data() : Self.encode(eventsOnly))
                answers[question] = answer
            }
            if !answer.events.isEmpty {
                deliver(events: answer.encoded, count: answer.events.count, revision: max(currentRevision, last),
                        nextRevision: last + 1, from: watcher) { answer.events }
            }
            watcher.nextRevision = last + 1
        }
        catchUp()
    }

    /// Everything that decides which events of a history batch a watcher is sent, and how.
    private struct CatchUpQuestion: Hashable {
        let range: WatchKeyRange
        let nextRevision: Int64
        let withPrevKV: Bool
        let skipsPuts: Bool
        let skipsDeletes: Bool

        init(_ watcher: Watcher) {
            range = watcher.range
            nextRevision = watcher.nextRevision
            withPrevKV = watcher.wantsPrevKV
            skipsPuts = watcher.skipsPuts
            skipsDeletes = watcher.skipsDeletes
        }
    }

    /// The store could not be asked; the owner retries with ``retryCatchUp()``.
    public func historyFailed() {
        fetching = nil
    }

    public func retryCatchUp() {
        catchUp()
    }

    private func reportCompaction(_ compactRevision: Int64) {
        for watcher in watchersReadyToCatchUp where watcher.nextRevision < compactRevision {
            remove(watcher)
            var response = Etcdserverpb_WatchResponse()
            response.watchID = watcher.id
            response.compactRevision = compactRevision
            response.canceled = true
            send(response, to: watcher.session, watchID: watcher.id, removed: true)
        }
    }

    private func rejoin(_ watcher: Watcher) {
        behind[ObjectIdentifier(watcher)] = nil
        watcher.isInStep = true
        inStep.insert(watcher)
    }

    // MARK: Output

    private func remove(_ watcher: Watcher) {
        detach(watcher)
        watcher.session.watchers[watcher.id] = nil
    }

    private func detach(_ watcher: Watcher) {
        if watcher.isInStep {
            inStep.remove(watcher)
        } else {
            behind[ObjectIdentifier(watcher)] = nil
        }
    }

    /// Sends a watcher events given encoded as the `events` field alone: its response is the header
    /// and watch id encoded before them (the order a whole response is encoded in), so the events'
    /// bytes are made once for every watcher that sees them alike. `views` gives the events
    /// themselves for a response that must be split into fragments.
    private func deliver(
        events: Data, count: Int, revision: Int64, nextRevision: Int64, from watcher: Watcher, views: () -> [Mvccpb_Event]
    ) {
        var head = Etcdserverpb_WatchResponse()
        head.header.revision = revision
        head.watchID = watcher.id
        let encoded = Self.encode(head) + events
        guard watcher.wantsFragments, count > 1, encoded.count >= watcher.session.maxResponseBytes else {
            watcher.sentSinceProgressTick = true
            return send(encoded: encoded, to: watcher.session, watchID: watcher.id, nextRevision: nextRevision)
        }
        head.events = views()
        deliver(head, from: watcher, nextRevision: nextRevision)
    }

    /// Sends a watcher's events, split into fragments when it asked for them and the response is too
    /// large, exactly as etcd splits.
    private func deliver(_ response: Etcdserverpb_WatchResponse, from watcher: Watcher, nextRevision: Int64) {
        watcher.sentSinceProgressTick = true
        let session = watcher.session
        let encoded = Self.encode(response)
        guard watcher.wantsFragments, response.events.count > 1, encoded.count >= session.maxResponseBytes else {
            return send(encoded: encoded, to: session, watchID: watcher.id, nextRevision: nextRevision)
        }
        for fragment in Self.fragments(of: response, limit: session.maxResponseBytes) {
            send(fragment, to: session, watchID: watcher.id, nextRevision: fragment.fragment ? 0 : nextRevision)
        }
    }

    static func fragments(of response: Etcdserverpb_WatchResponse, limit: Int) -> [Etcdserverpb_WatchResponse] {
        var fragments: [Etcdserverpb_WatchResponse] = []
        var remaining = response.events[...]
        while !remaining.isEmpty {
            var fragment = response
            fragment.events = []
            fragment.fragment = true
            while let event = remaining.first {
                fragment.events.append(event)
                if fragment.events.count > 1, encode(fragment).count >= limit {
                    fragment.events.removeLast()
                    break
                }
                remaining = remaining.dropFirst()
            }
            if remaining.isEmpty { fragment.fragment = false }
            fragments.append(fragment)
        }
        return fragments
    }

    private func send(
        _ response: Etcdserverpb_WatchResponse, to session: Session, watchID: Int64,
        created: Bool = false, removed: Bool = false, nextRevision: Int64 = 0
    ) {
        send(encoded: Self.encode(response), to: session, watchID: watchID, created: created, removed: removed, nextRevision: nextRevision)
    }

    private static func encode(_ response: Etcdserverpb_WatchResponse) -> Data {
        (try? response.serializedData()) ?? Data()
    }

    private func send(
        encoded response: Data, to session: Session, watchID: Int64,
        created: Bool = false, removed: Bool = false, nextRevision: Int64 = 0
    ) {
        var output = Etcetera_Watch_SessionOutput()
        output.response = response
        output.watchID = watchID
        output.created = created
        output.removed = removed
        output.nextRevision = nextRevision
        session.undelivered += output.windowCharge
        if session.undelivered >= configuration.sessionWindow { session.isPaused = true }
        session.output(output)
    }
}
