import NIOCore
import Synchronization

/// What every connection's workers share: the encoded requests, the ticket counter and the pacing.
final class LoadPlan: Sendable {
    let path: String
    let requests: [ByteBuffer]
    let rate: Int
    let timeout: TimeAmount?
    let opensStreamPerRequest: Bool
    private let nextTicket = Atomic<Int>(0)

    init(path: String, requests: [ByteBuffer], rate: Int, timeout: TimeAmount?, opensStreamPerRequest: Bool = false) {
        self.path = path
        self.opensStreamPerRequest = opensStreamPerRequest
        self.requests = requests
        self.rate = rate
        self.timeout = timeout
    }

    /// The next request number to send, handed out across all connections without a lock.
    func takeTicket() -> Int {
        nextTicket.wrappingAdd(1, ordering: .relaxed).oldValue
    }

    /// Sends every request with `clients` workers spread round-robin over `connections` (worker i uses
    /// connection i mod the count, as etcd's tool does) and waits for the last answer.
    func run(on connections: [OpenConnection], clients: Int) async throws -> LoadOutcome {
        let start = NIODeadline.now()
        let futures = connections.enumerated().map { index, connection in
            let workers = (0..<clients).filter { $0 % connections.count == index }.count
            return connection.eventLoop.flatSubmit {
                ConnectionLoad(plan: self, start: start, connection: connection.handler.value, eventLoop: connection.eventLoop)
                    .run(workers: workers)
            }
        }
        var outcome = LoadOutcome(recorder: LatencyRecorder(expectedCount: requests.count), acknowledgements: [])
        for future in futures {
            let part = try await future.get()
            outcome.recorder.merge(part.recorder)
            outcome.acknowledgements += part.acknowledgements
        }
        return outcome
    }
}

/// Latencies of a load, and when each successful request was answered (request number, time), which
/// the watch benchmark measures event delivery from.
struct LoadOutcome: Sendable {
    var recorder: LatencyRecorder
    var acknowledgements: [(request: Int, at: NIODeadline)]
}

/// The workers of one connection, confined to its event loop: each sends a request, records its
/// latency when the answer comes, and sends the next until the tickets run out.
private final class ConnectionLoad {
    private let plan: LoadPlan
    private let start: NIODeadline
    private let connection: ClientConnection
    private let eventLoop: any EventLoop
    private let finished: EventLoopPromise<LoadOutcome>
    private var outcome: LoadOutcome
    private var activeWorkers = 0

    init(plan: LoadPlan, start: NIODeadline, connection: ClientConnection, eventLoop: any EventLoop) {
        self.plan = plan
        self.start = start
        self.connection = connection
        self.eventLoop = eventLoop
        finished = eventLoop.makePromise()
        outcome = LoadOutcome(recorder: LatencyRecorder(expectedCount: plan.requests.count), acknowledgements: [])
    }

    func run(workers: Int) -> EventLoopFuture<LoadOutcome> {
        activeWorkers = workers
        if workers == 0 { finished.succeed(outcome) }
        for _ in 0..<workers { sendNext() }
        return finished.futureResult
    }

    private func sendNext() {
        let index = plan.takeTicket()
        guard index < plan.requests.count else {
            activeWorkers -= 1
            if activeWorkers == 0 { finished.succeed(outcome) }
            return
        }
        if plan.rate > 0 {
            let due = start + .nanoseconds(Int64(Double(index) * 1e9 / Double(plan.rate)))
            if due > .now() {
                eventLoop.assumeIsolated().scheduleTask(deadline: due) { self.send(index) }
                return
            }
        }
        send(index)
    }

    private func send(_ index: Int) {
        let sent = NIODeadline.now()
        connection.call(
            path: plan.path, framedRequest: plan.requests[index], timeout: plan.timeout,
            endsAtFirstMessage: plan.opensStreamPerRequest
        ) { result in
            switch result {
            case .success:
                let answered = NIODeadline.now()
                self.outcome.recorder.record(.nanoseconds((answered - sent).nanoseconds))
                self.outcome.acknowledgements.append((index, answered))
            case .failure(let failure):
                self.outcome.recorder.recordFailure(failure)
            }
            self.sendNext()
        }
    }
}
