import EtceteraAPI
import Foundation

/// The watchers that are in step with the store, found by key. Watchers of the same single key share
/// one dictionary entry and identical ranges share one group, so the matching work per event does not
/// grow with the number of identical watchers (as etcd's gRPC proxy coalesces them).
struct WatcherIndex {
    private var singleKey: [Data: WatcherGroup] = [:]
    private var ranges: [WatchKeyRange: WatcherGroup] = [:]

    mutating func insert(_ watcher: Watcher) {
        if case .singleKey = watcher.range.end {
            singleKey[watcher.range.key, default: WatcherGroup()].insert(watcher)
        } else {
            ranges[watcher.range, default: WatcherGroup()].insert(watcher)
        }
    }

    mutating func remove(_ watcher: Watcher) {
        if case .singleKey = watcher.range.end {
            singleKey[watcher.range.key]?.remove(watcher)
            if singleKey[watcher.range.key]?.isEmpty == true { singleKey[watcher.range.key] = nil }
        } else {
            ranges[watcher.range]?.remove(watcher)
            if ranges[watcher.range]?.isEmpty == true { ranges[watcher.range] = nil }
        }
    }

    /// Calls `body` for every watcher whose range holds `key`.
    func forEachWatcher(of key: Data, _ body: (Watcher) -> Void) {
        singleKey[key]?.members.forEach(body)
        for (range, group) in ranges where range.contains(key) {
            group.members.forEach(body)
        }
    }

    var allWatchers: [Watcher] {
        singleKey.values.flatMap(\.members) + ranges.values.flatMap(\.members)
    }
}

/// The watchers of one key or one range. A popular key may have 100,000 watchers, and a closing
/// stream removes its watchers one by one, so removal must not scan the group: each watcher knows
/// its position, and the last member takes the place of the one leaving.
struct WatcherGroup {
    private(set) var members: [Watcher] = []

    var isEmpty: Bool { members.isEmpty }

    mutating func insert(_ watcher: Watcher) {
        watcher.groupPosition = members.count
        members.append(watcher)
    }

    mutating func remove(_ watcher: Watcher) {
        let position = watcher.groupPosition
        guard position < members.count, members[position] === watcher else { return }
        let last = members.removeLast()
        if position < members.count {
            members[position] = last
            last.groupPosition = position
        }
    }
}
