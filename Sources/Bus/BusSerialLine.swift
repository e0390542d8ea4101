import Dispatch
import Synchronization

/// The requests a service runs on the one serial queue its state lives on (the lessor, the auth
/// store), with a bound on how many wait:
///
/// - a request that finds `waitingLimit` requests, or `byteLimit` bytes of them, already waiting is
///   turned away at once, without running (`BusError.overloaded`, etcd's `too many requests` at the
///   gateway), so clients that send faster than the state can take cost a bounded amount of memory;
/// - every request let in runs, however late. Unlike ``BusWorkQueue`` and ``BusBatchLine``, nothing is
///   dropped for its deadline: a keep-alive that comes late still renews its lease, and a change whose
///   client stopped waiting must still be decided in arrival order with the others.
///
/// The queue is the caller's, so its timers and replies from peer services stay in the same order.
public final class BusSerialLine: Sendable {
    private struct State {
        var waiting = 0
        var bytes = 0
        var counts = BusWorkQueue.Counts()
    }

    private let queue: DispatchQueue
    private let limits: WaitingLimits
    private let state = Mutex(State())

    /// - Parameters:
    ///   - queue: the serial queue the work runs on.
    ///   - waitingLimit: how many requests may wait before more are turned away (at least 1).
    ///   - byteLimit: how many payload bytes they may hold together (one request is always let in when
    ///     none waits, whatever its size: the bus already bounds a message).
    public init(queue: DispatchQueue, waitingLimit: Int, byteLimit: Int) {
        self.queue = queue
        limits = WaitingLimits(requests: waitingLimit, bytes: byteLimit)
    }

    /// Runs `work` for `request` on the queue after what was submitted before, or turns `request` away
    /// when the line is full. `work` answers `request` itself.
    public func submit(_ request: BusIncomingRequest, _ work: @escaping @Sendable () -> Void) {
        let bytes = request.payload.count
        let admitted = state.withLock { state -> Bool in
            guard limits.admit(size: bytes, waiting: state.waiting, waitingBytes: state.bytes) else {
                state.counts.overloaded += 1
                return false
            }
            state.waiting += 1
            state.bytes += bytes
            return true
        }
        guard admitted else { return request.replyOverloaded() }
        queue.async {
            self.state.withLock { state in
                state.waiting -= 1
                state.bytes -= bytes
                state.counts.ran += 1
            }
            work()
        }
    }

    /// What became of the requests so far (none expire here).
    public var counts: BusWorkQueue.Counts {
        state.withLock { $0.counts }
    }

    /// How many requests wait for the queue now.
    public var waitingCount: Int {
        state.withLock { $0.waiting }
    }
}
