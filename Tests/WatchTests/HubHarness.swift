import EtceteraAPI
import Foundation
import MVCC
import Storage
import Synchronization
import Watch

/// A WatchHub fed by a real in-memory MVCC store, driven by hand: committed revisions and history
/// requests queue up until the test pumps them, so tests can order the live stream and history
/// answers as they like.
final class HubHarness {
    let store: MVCCStore
    private(set) var hub: WatchHub!
    private let committed = CommittedRevisions()
    private var fetches: [(from: Int64, through: Int64)] = []
    private(set) var outputs: [UInt64: [Etcetera_Watch_SessionOutput]] = [:]

    init(configuration: WatchHub.Configuration = .init()) throws {
        var storeConfiguration = MVCCStore.Configuration()
        storeConfiguration.syncWrites = false
        store = try MVCCStore(storage: InMemoryStorage(), configuration: storeConfiguration)
        let committed = self.committed
        store.onCommit { revisions in committed.list.withLock { $0.append(contentsOf: revisions) } }
        let status = store.status()
        hub = WatchHub(currentRevision: status.revision, configuration: configuration) {
            [unowned self] from, through in fetches.append((from, through))
        }
    }

    func open(_ session: UInt64, maxResponseBytes: Int64 = 1 << 20) {
        var request = Etcetera_Watch_OpenSession()
        request.session = session
        request.maxResponseBytes = maxResponseBytes
        hub.openSession(request) { [unowned self] output in outputs[session, default: []].append(output) }
    }

    func add(_ session: UInt64, key: String, end: String = "", start: Int64 = 0, id: Int64 = 0,
             configure: (inout Etcetera_Watch_AddWatcher) -> Void = { _ in }) throws {
        var request = Etcetera_Watch_AddWatcher()
        request.session = session
        request.key = Data(key.utf8)
        request.rangeEnd = Data(end.utf8)
        request.startRevision = start
        request.watchID = id
        configure(&request)
        try hub.addWatcher(request)
    }

    @discardableResult
    func put(_ key: String, _ value: String) async throws -> Int64 {
        var request = Etcdserverpb_PutRequest()
        request.key = Data(key.utf8)
        request.value = Data(value.utf8)
        guard case .put(let response) = try await store.write(.put(request)) else { return 0 }
        return response.header.revision
    }

    func delete(_ key: String) async throws {
        var request = Etcdserverpb_DeleteRangeRequest()
        request.key = Data(key.utf8)
        _ = try await store.write(.deleteRange(request))
    }

    /// Applies the committed revisions the live stream would have carried.
    func deliverLive() {
        let revisions = committed.list.withLock { queue in defer { queue = [] }; return queue }
        revisions.forEach(hub.apply)
    }

    /// Drops the committed revisions instead, as a lossy event stream would.
    func loseLive() {
        committed.list.withLock { $0 = [] }
    }

    /// Answers the history requests made so far from the store.
    func answerHistory() throws {
        while !fetches.isEmpty {
            let fetch = fetches.removeFirst()
            hub.historyArrived(try store.events(from: fetch.from, through: fetch.through))
        }
    }

    /// Live revisions and history, until nothing is left to do.
    func pump() throws {
        repeat {
            deliverLive()
            try answerHistory()
        } while !fetches.isEmpty || committed.list.withLock({ !$0.isEmpty })
    }

    var pendingFetches: Int { fetches.count }

    func responses(_ session: UInt64) throws -> [Etcdserverpb_WatchResponse] {
        try (outputs[session] ?? []).filter { !$0.response.isEmpty }.map { try Etcdserverpb_WatchResponse(serializedBytes: $0.response) }
    }

    /// (watch id, revision, type, key) of every event sent on `session`, in order.
    func events(_ session: UInt64) throws -> [String] {
        try responses(session).flatMap { response in
            response.events.map { "\(response.watchID):\($0.kv.modRevision):\($0.type == .put ? "PUT" : "DELETE"):\(String(decoding: $0.kv.key, as: UTF8.self))" }
        }
    }
}

/// Revisions the store committed and the live stream has not carried yet (filled on the writer thread).
private final class CommittedRevisions: Sendable {
    let list = Mutex<[Etcetera_Kv_RevisionEvents]>([])
}
