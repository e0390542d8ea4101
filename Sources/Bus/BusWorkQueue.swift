import Dispatch
import Synchronization

/// Where a service runs the requests it cannot answer on its bus I/O thread (long reads, bcrypt,
/// snapshots): a fixed number of workers and a bounded line of waiting requests. This is the one
/// place that decides what happens to work nobody can take or nobody waits for any more:
///
/// - a request that finds every worker busy and `waitingLimit` requests already waiting is turned
///   away at once, without running: its client fails it with `BusError.overloaded` (the gateway
///   answers etcd's `too many requests`), so a flood of one kind of request costs the service
///   almost nothing and other requests keep being served;
/// - a request whose deadline has passed when a worker takes it is dropped without running: its
///   client has already failed it with `deadlineExceeded`, so the work would be for nobody.
///
/// Requests wait in arrival order. Each worker is a serial dispatch queue, so it has a thread of its
/// own and never takes one of the cooperative pool's threads, which Swift tasks share.
public final class BusWorkQueue: Sendable {
    private struct Job {
        let request: BusIncomingRequest
        let work: @Sendable () -> Void
    }

    private struct State {
        var idleWorkers: [Int]
        /// Waiting jobs, oldest at `head`; the consumed prefix is cut off as the line moves.
        var waiting: [Job] = []
        var head = 0
        var counts = Counts()

        var waitingCount: Int { waiting.count - head }

        mutating func takeNext() -> Job? {
            guard head < waiting.count else { return nil }
            let job = waiting[head]
            head += 1
            if head == waiting.count {
                waiting.removeAll(keepingCapacity: true)
                head = 0
            } else if head >= 1024 && head * 2 >= waiting.count {
                waiting.removeFirst(head)
                head = 0
            }
            return job
        }
    }

    /// What became of the requests given to this queue since it was made.
    public struct Counts: Sendable, Equatable {
        /// Requests whose work ran.
        public var ran = 0
        /// Requests turned away because the line was full.
        public var overloaded = 0
        /// Requests dropped unrun because their deadline passed while they waited.
        public var expired = 0
    }

    private let workers: [DispatchQueue]
    private let waitingLimit: Int
    private let state: Mutex<State>

    /// - Parameters:
    ///   - label: names the workers' dispatch queues (`label-0`, `label-1`, …).
    ///   - concurrency: how many requests run at once (at least 1).
    ///   - waitingLimit: how many more may wait for a worker (at least 0) before requests are turned away.
    public init(label: String, concurrency: Int, waitingLimit: Int) {
        let concurrency = max(concurrency, 1)
        workers = (0..<concurrency).map { DispatchQueue(label: "\(label)-\($0)") }
        self.waitingLimit = max(waitingLimit, 0)
        state = Mutex(State(idleWorkers: Array((0..<concurrency).reversed())))
    }

    /// Runs `work` for `request` on a worker: at once if one is idle, after the requests waiting
    /// before it otherwise. `work` answers `request` itself. Turns `request` away (`overloaded`)
    /// when the line is full, and drops it unrun when its deadline passes before a worker takes it.
    public func submit(_ request: BusIncomingRequest, _ work: @escaping @Sendable () -> Void) {
        enum Decision { case run(Int), wait, turnAway }
        let job = Job(request: request, work: work)
        let decision = state.withLock { state -> Decision in
            if let worker = state.idleWorkers.popLast() { return .run(worker) }
            guard state.waitingCount < waitingLimit else {
                state.counts.overloaded += 1
                return .turnAway
            }
            state.waiting.append(job)
            return .wait
        }
        switch decision {
        case .run(let worker): workers[worker].async { self.work(from: job, on: worker) }
        case .wait: break
        case .turnAway: request.replyOverloaded()
        }
    }

    /// What became of the requests so far.
    public var counts: Counts {
        state.withLock { $0.counts }
    }

    /// How many requests wait for a worker now.
    public var waitingCount: Int {
        state.withLock { $0.waitingCount }
    }

    /// A worker's loop: runs `first`, then the waiting jobs in turn, until none is left.
    private func work(from first: Job, on worker: Int) {
        var job = first
        while true {
            let expired = ContinuousClock.now >= job.request.deadline
            if expired {
                job.request.drop()
            } else {
                job.work()
            }
            guard let next = state.withLock({ state -> Job? in
                if expired { state.counts.expired += 1 } else { state.counts.ran += 1 }
                guard let next = state.takeNext() else {
                    state.idleWorkers.append(worker)
                    return nil
                }
                return next
            }) else { return }
            job = next
        }
    }
}
