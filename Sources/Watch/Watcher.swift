import EtceteraAPI
import Foundation

/// One watcher of one session. About 200 bytes plus its key bytes; it keeps no events of its own, so an
/// idle watcher costs the same however much is written.
final class Watcher {
    let id: Int64
    unowned let session: Session
    let range: WatchKeyRange
    let wantsPrevKV: Bool
    let wantsFragments: Bool
    let wantsProgress: Bool
    let skipsPuts: Bool
    let skipsDeletes: Bool
    /// No event before this revision is reported: the start revision at first; while behind, the first
    /// revision not sent yet. While in step it only matters for a future start revision.
    var nextRevision: Int64
    var isInStep: Bool
    /// Whether anything was sent since the last progress tick (etcd sends progress only to quiet watchers).
    var sentSinceProgressTick = false
    /// Where the watcher sits in its `WatcherGroup` while in step, so leaving takes constant time.
    var groupPosition = 0

    init(id: Int64, session: Session, request: Etcetera_Watch_AddWatcher, startRevision: Int64, inStep: Bool) {
        self.id = id
        self.session = session
        range = WatchKeyRange(key: request.key, rangeEnd: request.rangeEnd)
        wantsPrevKV = request.prevKv
        wantsFragments = request.fragment
        wantsProgress = request.progressNotify
        skipsPuts = request.noPut
        skipsDeletes = request.noDelete
        nextRevision = startRevision
        isInStep = inStep
    }

    /// The event as this watcher reports it, or nil when its filters drop it.
    func view(of event: Mvccpb_Event) -> Mvccpb_Event? {
        switch event.type {
        case .put where skipsPuts: return nil
        case .delete where skipsDeletes: return nil
        default: break
        }
        guard !wantsPrevKV, event.hasPrevKv else { return event }
        var trimmed = event
        trimmed.clearPrevKv()
        return trimmed
    }
}
