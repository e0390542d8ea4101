import Foundation

/// The keys a watcher covers, as etcd's watch create request states them: one key, `[key, end)`, or
/// every key from `key` on.
struct WatchKeyRange: Hashable {
    enum End: Hashable {
        case singleKey
        case before(Data)
        case unbounded
    }

    let key: Data
    let end: End

    /// From the bus message's encoding: empty `rangeEnd` is one key, `"\0"` every key from `key` on.
    init(key: Data, rangeEnd: Data) {
        self.key = key
        if rangeEnd.isEmpty {
            end = .singleKey
        } else if rangeEnd == Data([0]) {
            end = .unbounded
        } else {
            end = .before(rangeEnd)
        }
    }

    /// etcd refuses a range whose end is not after its start.
    var isEmpty: Bool {
        if case .before(let limit) = end { return !key.lexicographicallyPrecedes(limit) }
        return false
    }

    func contains(_ candidate: Data) -> Bool {
        switch end {
        case .singleKey: candidate == key
        case .unbounded: !candidate.lexicographicallyPrecedes(key)
        case .before(let limit): !candidate.lexicographicallyPrecedes(key) && candidate.lexicographicallyPrecedes(limit)
        }
    }
}
