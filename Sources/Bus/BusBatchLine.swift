import Dispatch
import Synchronization

/// Requests handled in batches off the bus thread (the kv store's group commit: every write that
/// arrived during one sync is the next group), with the bounds of ``BusWorkQueue``:
///
/// - a request that finds `waitingLimit` requests, or `byteLimit` bytes of them, already waiting is
///   turned away at once (`BusError.overloaded`, etcd's `too many requests` at the gateway), so a
///   disk that stalls while clients keep writing costs a bounded amount of memory;
/// - a request whose deadline has passed when its batch is taken is dropped without running: its
///   client has already failed it, and doing the work for nobody would only lengthen the stall.
///
/// The batches run one at a time, in arrival order, on a serial queue of the line's own.
public final class BusBatchLine<Item: Sendable>: Sendable {
    private struct Waiting {
        let request: BusIncomingRequest
        let item: Item
        let bytes: Int
    }

    private struct State {
        var waiting: [Waiting] = []
        var bytes = 0
        var running = false
        var counts = BusWorkQueue.Counts()
    }

    private let queue: DispatchQueue
    private let limits: WaitingLimits
    private let process: @Sendable ([Item]) -> Void
    private let state = Mutex(State())

    /// - Parameters:
    ///   - waitingLimit: how many requests may wait for the next batch before more are turned away.
    ///   - byteLimit: how many payload bytes they may hold together (one request is always taken
    ///     when none waits, whatever its size: the bus already bounds a message).
    ///   - process: handles one batch, in arrival order; it answers each item's request itself.
    public init(label: String, waitingLimit: Int, byteLimit: Int, process: @escaping @Sendable ([Item]) -> Void) {
        queue = DispatchQueue(label: label)
        limits = WaitingLimits(requests: waitingLimit, bytes: byteLimit)
        self.process = process
    }

    /// Adds `item` for `request` to the next batch, or turns `request` away when the line is full.
    /// The batch starts at the next ``startIfWaiting()``.
    public func append(_ request: BusIncomingRequest, _ item: Item) {
        let bytes = request.payload.count
        let admitted = state.withLock { state -> Bool in
            guard limits.admit(size: bytes, waiting: state.waiting.count, waitingBytes: state.bytes) else {
                state.counts.overloaded += 1
                return false
            }
            state.waiting.append(Waiting(request: request, item: item, bytes: bytes))
            state.bytes += bytes
            return true
        }
        if !admitted { request.replyOverloaded() }
    }

    /// Starts handling the waiting requests unless a batch is running (the running one takes them
    /// next). A server calls it after each batch of bus messages, so one batch gathers all of them.
    public func startIfWaiting() {
        let start = state.withLock { state -> Bool in
            guard !state.waiting.isEmpty, !state.running else { return false }
            state.running = true
            return true
        }
        if start { queue.async { self.runBatches() } }
    }

    /// How many requests wait for the next batch now.
    public var waitingCount: Int {
        state.withLock { $0.waiting.count }
    }

    /// What became of the requests so far.
    public var counts: BusWorkQueue.Counts {
        state.withLock { $0.counts }
    }

    /// Takes every waiting request as one batch, until none is left.
    private func runBatches() {
        while true {
            let batch = state.withLock { state -> [Waiting] in
                defer {
                    state.waiting.removeAll(keepingCapacity: true)
                    state.bytes = 0
                }
                if state.waiting.isEmpty { state.running = false }
                return state.waiting
            }
            guard !batch.isEmpty else { return }
            let now = ContinuousClock.now
            var items: [Item] = []
            items.reserveCapacity(batch.count)
            var expired = 0
            for waiting in batch {
                if now >= waiting.request.deadline {
                    waiting.request.drop()
                    expired += 1
                } else {
                    items.append(waiting.item)
                }
            }
            if !items.isEmpty { process(items) }
            state.withLock { state in
                state.counts.expired += expired
                state.counts.ran += items.count
            }
        }
    }
}
