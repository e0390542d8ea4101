/// A min-heap of request deadlines. Entries are not removed when a request completes; the owner checks
/// popped entries against its pending table and calls `rebuild` when stale entries pile up.
struct DeadlineQueue {
    struct Entry {
        var deadline: ContinuousClock.Instant
        var requestID: UInt64
    }

    private var heap: [Entry] = []

    var count: Int { heap.count }
    var earliest: Entry? { heap.first }

    mutating func insert(_ entry: Entry) {
        heap.append(entry)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].deadline < heap[parent].deadline else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    mutating func removeEarliest() -> Entry? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let entry = heap.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            guard left < heap.count else { break }
            var smallest = left
            if left + 1 < heap.count, heap[left + 1].deadline < heap[left].deadline { smallest = left + 1 }
            guard heap[smallest].deadline < heap[parent].deadline else { break }
            heap.swapAt(smallest, parent)
            parent = smallest
        }
        return entry
    }

    /// Replaces the content with `entries` (the live requests only).
    mutating func rebuild(from entries: some Sequence<Entry>) {
        heap.removeAll(keepingCapacity: true)
        for entry in entries { insert(entry) }
    }
}
