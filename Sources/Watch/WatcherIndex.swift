import EtceteraAPI
import Foundation

/// The watchers that are in step with the store, found by key. Watchers of the same single key share
/// one dictionary entry and identical ranges share one group, so the matching work per event does not
/// grow with the number of identical watchers (as etcd's gRPC proxy coalesces them).
struct WatcherIndex {
    private var singleKey: [Data: [Watcher]] = [:]
    private var ranges: [WatchKeyRange: [Watcher]] = [:]

    mutating func insert(_ watcher: Watcher) {
        if case .singleKey = watcher.range.end {
            singleKey[watcher.range.key, default: []].append(watcher)
        } else {
            ranges[watcher.range, default: []].append(watcher)
        }
    }

    mutating func remove(_ watcher: Watcher) {
        if case .singleKey = watcher.range.end {
            singleKey[watcher.range.key]?.removeAll { $0 === watcher }
            if singleKey[watcher.range.key]?.isEmpty == true { singleKey[watcher.range.key] = nil }
        } else {
            ranges[watcher.range]?.removeAll { $0 === watcher }
            if ranges[watcher.range]?.isEmpty == true { ranges[watcher.range] = nil }
        }
    }

    /// Calls `body` for every watcher whose range holds `key`.
    func forEachWatcher(of key: Data, _ body: (Watcher) -> Void) {
        singleKey[key]?.forEach(body)
        for (range, watchers) in ranges where range.contains(key) {
            watchers.forEach(body)
        }
    }

    var allWatchers: [Watcher] {
        singleKey.values.flatMap { $0 } + ranges.values.flatMap { $0 }
    }
}
