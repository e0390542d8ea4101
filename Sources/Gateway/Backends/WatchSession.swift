import Bus
import EtceteraAPI
import Foundation
import GRPCWire
import Synchronization

/// One client Watch stream, homed on one watch process. It forwards the client's requests, passes
/// the process's responses through (adding the cluster header fields), and remembers each watcher
/// and how far it has been served, so that when its process dies the session moves to another one
/// and every watcher resumes at the first revision its client has not seen: no event lost, none
/// repeated, and the client sees nothing but a pause.
///
/// With an admission (auth on), the client's requests are taken in order through an inbox while each
/// create is checked, and a refused create is answered after the creates before it, as etcd answers
/// creates in the order they came.
final class WatchSession: StreamingCall, Sendable {
    /// A create the client sent that has not been answered yet.
    private enum PendingCreate {
        case forwarded(Etcetera_Watch_AddWatcher)
        /// Refused by the admission: its response waits for the creates before it.
        case refused([UInt8])
    }

    private struct State {
        var process: Int?
        /// Bumped on every (re)open; outputs of an older home are ignored.
        var generation = 0
        /// Created watchers as they would be re-created: `startRevision` is the first unseen revision.
        var watchers: [Int64: Etcetera_Watch_AddWatcher] = [:]
        /// Creates not answered yet, in order; never starting with a refused one (that one is sent).
        var pendingCreates: [PendingCreate] = []
        /// Client requests waiting for the create before them to be admitted, and whether a task is
        /// taking them.
        var inbox: [Etcdserverpb_WatchRequest] = []
        var draining = false
        var nextWatchID: Int64 = 0
        /// The window charge of outputs written to the client since the last credit.
        var delivered = 0
        var failedOpens = 0
        /// Watchers re-created on the current home whose re-creation the process has not confirmed yet.
        /// Its progress reports wait until there are none: a report sent before a re-creation reached
        /// the process says nothing of that watcher, and must not move its resume point.
        var unconfirmedResumes = 0
        var closed = false
        var openRequest: StreamingRequestHandle?
    }

    /// Credits go back once this much window charge has been delivered (and every second): a
    /// sixteenth of the watch process's default window.
    private static let creditBatch = 64 << 10
    /// A session that finds no watch process for this many attempts (200 ms apart) fails its stream
    /// with Unavailable, which clientv3 answers by watching again from its last revision.
    private static let maxFailedOpens = 25

    let id = UInt64.random(in: 1...UInt64.max)
    private let backend: WatchBackend
    private let writer: StreamWriter
    private let headerSuffix: [UInt8]
    private let admission: WatchAdmission?
    /// Tells each create how far the store is, as far as the gateway has seen.
    private let storeRevision: StoreRevision
    private let state = Mutex(State())
    /// Bounds the requests the client sent and has not read the answers of (``StreamBacklog``).
    private let backlog: StreamBacklog

    init(backend: WatchBackend, writer: StreamWriter, headerSuffix: [UInt8], admission: WatchAdmission?, storeRevision: StoreRevision) {
        self.backend = backend
        self.writer = writer
        self.headerSuffix = headerSuffix
        self.admission = admission
        self.storeRevision = storeRevision
        backlog = StreamBacklog(writer: writer)
        backend.register(self)
        homeOnNextProcess(excluding: nil, generation: 0)
    }

    var currentProcess: Int? { state.withLock { $0.closed ? nil : $0.process } }

    /// Watchers created on this stream and not cancelled.
    var watcherCount: Int { state.withLock { $0.watchers.count } }

    // MARK: Client side

    /// Creates and progress requests are always answered, cancels of a known watcher too; those count
    /// in the stream's backlog until their answer (or any other output) has left for the client.
    func received(_ message: [UInt8]) -> StreamDemand {
        guard let request = try? Etcdserverpb_WatchRequest(serializedBytes: message) else { return .more }
        let checked = admission?.isNeeded ?? false
        let (queued, startDraining, answered) = state.withLock { state -> (Bool, Bool, Bool) in
            let answered = switch request.requestUnion {
            case .createRequest, .progressRequest: true
            case .cancelRequest(let cancel): state.watchers[cancel.watchID] != nil
            case nil: false
            }
            guard checked || state.draining else { return (false, false, answered) }
            state.inbox.append(request)
            defer { state.draining = true }
            return (true, !state.draining, answered)
        }
        let demand = answered ? backlog.taken() : .more
        if !queued {
            forward(request)
        } else if startDraining {
            Task { await drainInbox() }
        }
        return demand
    }

    /// Takes the inbox in order, each create only once the admission has decided it.
    private func drainInbox() async {
        while let request = state.withLock({ state -> Etcdserverpb_WatchRequest? in
            guard !state.inbox.isEmpty else {
                state.draining = false
                return nil
            }
            return state.inbox.removeFirst()
        }) {
            if let admission, case .createRequest(let create) = request.requestUnion, let refusal = await admission.refusal(of: create) {
                refuse(with: refusal)
            } else {
                forward(request)
            }
        }
    }

    private func refuse(with response: [UInt8]) {
        state.withLock { state in
            guard !state.closed else { return }
            if state.pendingCreates.isEmpty {
                writer.send(response) { [backlog] in backlog.answered(1) }
            } else {
                state.pendingCreates.append(.refused(response))
            }
        }
    }

    private func forward(_ request: Etcdserverpb_WatchRequest) {
        var forwarded = Etcetera_Watch_WatchServiceRequest()
        switch request.requestUnion {
        case .createRequest(let create):
            var add = Etcetera_Watch_AddWatcher()
            add.session = id
            add.watchID = create.watchID
            add.key = create.key.isEmpty ? Data([0]) : create.key
            add.rangeEnd = create.rangeEnd
            add.startRevision = create.startRevision
            add.prevKv = create.prevKv
            add.progressNotify = create.progressNotify
            add.fragment = create.fragment
            add.noPut = create.filters.contains(.noput)
            add.noDelete = create.filters.contains(.nodelete)
            add.storeRevision = storeRevision.current
            forwarded.add = add
        case .cancelRequest(let cancel):
            forwarded.cancel.session = id
            forwarded.cancel.watchID = cancel.watchID
        case .progressRequest:
            forwarded.progress.session = id
        case nil:
            return
        }
        sendToHome(forwarded) { state in
            if case .add(let add)? = forwarded.request { state.pendingCreates.append(.forwarded(add)) }
        }
    }

    func clientFinished() {}

    func cancelled() {
        let (process, openRequest) = state.withLock { state -> (Int?, StreamingRequestHandle?) in
            state.closed = true
            return (state.process, state.openRequest)
        }
        openRequest?.cancel()
        backend.unregister(self)
        if let process {
            var request = Etcetera_Watch_WatchServiceRequest()
            request.close.session = id
            backend.send(request, to: process)
        }
    }

    // MARK: Process side

    /// Sends a request to the process the session is homed on, after `record` has noted it in the
    /// session's state under the same lock. Noting and choosing the process at once is what keeps a
    /// create from reaching a new home twice: a move that comes after the note re-sends the create
    /// itself (this send then goes to the old home, which no longer knows the session), and one that
    /// came before it does not know the create, which this send then delivers.
    private func sendToHome(_ request: Etcetera_Watch_WatchServiceRequest, record: (inout State) -> Void = { _ in }) {
        guard let (process, generation) = state.withLock({ state -> (Int, Int)? in
            guard !state.closed else { return nil }
            record(&state)
            return state.process.map { ($0, state.generation) }
        }) else { return }
        backend.send(request, to: process) { [self] _, sessionKnown in
            if !sessionKnown { rehome(from: generation) }
        }
    }

    /// Opens the session on `process` and re-creates every known watcher there.
    private func home(on process: Int) {
        let (generation, open, resumed, pending) = state.withLock { state in
            state.generation += 1
            state.process = process
            state.unconfirmedResumes = state.watchers.count
            var open = Etcetera_Watch_OpenSession()
            open.session = id
            open.maxResponseBytes = Int64(backend.maxResponseBytes)
            open.nextWatchID = state.nextWatchID
            let pending = state.pendingCreates.compactMap { create -> Etcetera_Watch_AddWatcher? in
                if case .forwarded(let add) = create { add } else { nil }
            }
            return (state.generation, open, Array(state.watchers.values), pending)
        }
        // Outputs are handled on the bus thread as they arrive: straight on to the client's event loop.
        let openRequest = backend.open(open, on: process) { [self] reply in
            switch reply {
            case .partial(let payload):
                if let batch = try? Etcetera_Watch_SessionOutputs(serializedBytes: payload) { handle(batch.outputs, generation: generation) }
            case .final, .failed:
                rehome(from: generation)
            }
        }
        state.withLock { $0.openRequest = openRequest }
        for watcher in resumed.sorted(by: { $0.watchID < $1.watchID }) {
            var request = Etcetera_Watch_WatchServiceRequest()
            request.add = watcher
            backend.send(request, to: process) { [self] _, _ in
                state.withLock { state in
                    if state.generation == generation { state.unconfirmedResumes -= 1 }
                }
            }
        }
        for create in pending {
            var request = Etcetera_Watch_WatchServiceRequest()
            request.add = create
            backend.send(request, to: process)
        }
    }

    /// The home process is gone (or forgot the session): move to another one.
    private func rehome(from generation: Int) {
        let decision = state.withLock { state -> (previous: Int?, giveUp: Bool)? in
            guard !state.closed, state.generation == generation else { return nil }
            state.failedOpens += 1
            if state.failedOpens > Self.maxFailedOpens {
                state.closed = true
                return (state.process, true)
            }
            return (state.process, false)
        }
        guard let decision else { return }
        if decision.giveUp {
            backend.unregister(self)
            return writer.finish(GRPCStatus(code: .unavailable, message: "etcdserver: no leader"))
        }
        if let previous = decision.previous {
            backend.logger.info("moving watch session", metadata: ["session": "\(id)", "from": "\(backend.endpoint(of: previous))"])
        }
        Task { [self] in
            try? await Task.sleep(for: .milliseconds(200))
            let stillCurrent = state.withLock { !$0.closed && $0.generation == generation }
            if stillCurrent { homeOnNextProcess(excluding: decision.previous, generation: generation) }
        }
    }

    /// Homes the session on the next process in turn, or tries again shortly while no watch process is
    /// known yet (a gateway with a watch registry that no process has announced itself to).
    private func homeOnNextProcess(excluding excluded: Int?, generation: Int) {
        if let process = backend.chooseProcess(excluding: excluded) {
            home(on: process)
        } else {
            rehome(from: generation)
        }
    }

    /// Passes outputs on to the client, each followed by the refusals it was holding back, as one
    /// write. Messages are queued for the client under the lock, so a refusal decided meanwhile cannot
    /// overtake them. Once written, they are credited back to the process with the window charge of
    /// every output, dropped ones included.
    private func handle(_ outputs: [Etcetera_Watch_SessionOutput], generation: Int) {
        let charge = outputs.reduce(0) { $0 + $1.windowCharge }
        // Outputs of an old home are not credited (their process is gone); outputs that leave no
        // message for the client are credited at once, the others once written.
        let creditNow = state.withLock { state -> Bool in
            guard state.generation == generation, !state.closed else { return false }
            state.failedOpens = 0
            var messages: [[UInt8]] = []
            for output in outputs {
                guard apply(output, to: &state) else { continue }
                if !output.response.isEmpty {
                    var message: [UInt8] = []
                    message.reserveCapacity(output.response.count + headerSuffix.count)
                    message.append(contentsOf: output.response)
                    message.append(contentsOf: headerSuffix)
                    messages.append(message)
                }
                while case .refused(let response)? = state.pendingCreates.first {
                    state.pendingCreates.removeFirst()
                    messages.append(response)
                }
            }
            guard !messages.isEmpty else { return true }
            writer.send(messages) { [self, count = messages.count] in delivered(count, charge: charge) }
            return false
        }
        if creditNow { delivered(0, charge: charge) }
    }

    /// Notes what an output says of the session's watchers; false for one to drop.
    private func apply(_ output: Etcetera_Watch_SessionOutput, to state: inout State) -> Bool {
        if output.hasProgress, state.unconfirmedResumes == 0 {
            let behind = Set(output.progress.behind)
            for (watchID, watcher) in state.watchers where !behind.contains(watchID) {
                state.watchers[watchID]?.startRevision = max(watcher.startRevision, output.progress.syncedThrough + 1)
            }
        }
        if output.created {
            // Each create of the client's is answered `created` once; one that matches none would
            // be taken by the client for the answer to its next create (clientv3 crashes on it).
            guard case .forwarded(var created)? = state.pendingCreates.first else {
                backend.logger.warning("dropping a created response that answers no create", metadata: [
                    "session": "\(id)", "watch": "\(output.watchID)",
                ])
                return false
            }
            state.pendingCreates.removeFirst()
            if output.watchID >= 0, !output.removed {
                if created.watchID == 0 { state.nextWatchID = max(state.nextWatchID, output.watchID + 1) }
                created.watchID = output.watchID
                created.startRevision = output.nextRevision
                created.resumed = true
                state.watchers[output.watchID] = created
            }
        } else if output.removed {
            state.watchers[output.watchID] = nil
        } else if output.nextRevision > 0, let watcher = state.watchers[output.watchID] {
            state.watchers[output.watchID]?.startRevision = max(watcher.startRevision, output.nextRevision)
        }
        return true
    }

    /// `messages` reached the client (outputs and refusals), outputs of the process among them whose
    /// window charge was `charge`.
    private func delivered(_ messages: Int, charge: Int) {
        if messages > 0 { backlog.answered(messages) }
        guard charge > 0 else { return }
        let due = state.withLock { state -> Bool in
            state.delivered += charge
            return state.delivered >= Self.creditBatch
        }
        if due { flushCredit() }
    }

    /// Hands the process back the credit for outputs the client has received.
    func flushCredit() {
        guard let (process, count) = state.withLock({ state -> (Int, Int)? in
            guard !state.closed, let process = state.process, state.delivered > 0 else { return nil }
            defer { state.delivered = 0 }
            return (process, state.delivered)
        }) else { return }
        var request = Etcetera_Watch_WatchServiceRequest()
        request.credit.session = id
        request.credit.deliveredCharge = Int64(count)
        backend.send(request, to: process)
    }
}
