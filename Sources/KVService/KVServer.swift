import Foundation
import Bus
import Dispatch
import EtceteraAPI
import Logging
import MVCC
import ServiceLifecycle
import SwiftProtobuf

/// The kv service on the bus: answers `KVRequest`s from an `MVCCStore` and publishes every committed
/// revision on the event stream, with an idle heartbeat that carries the current revision.
public final class KVServer: Service, Sendable {
    public struct Configuration: Sendable {
        /// Where gateways send requests (request/reply).
        public var listenEndpoint: String
        /// Where watchers subscribe to committed revisions.
        public var eventsEndpoint: String
        /// How often the event stream carries a heartbeat with the current revision.
        public var heartbeatInterval: Duration = .milliseconds(500)
        /// Where snapshots being read are kept (`<data dir>/snapshots`); nil: snapshots are refused.
        public var snapshotDirectory: String?
        /// A snapshot nobody has read for this long is deleted.
        public var snapshotIdleTimeout: Duration = .seconds(60)
        /// The most bytes of a snapshot one reply carries.
        public var snapshotPartSize = 1 << 20
        /// The most snapshots being read at once; each is a full copy of the store on disk, so more
        /// are refused with etcd's `too many requests` until one is read to the end or discarded.
        public var maximumSnapshotTransfers = 2
        /// How many reads (scans, read-only txns, snapshots, defragment) run at once off the bus thread.
        public var readWorkers = max(ProcessInfo.processInfo.activeProcessorCount, 2) * 2
        /// How many more reads may wait for a worker before reads are turned away as overload.
        public var waitingReadLimit = 4096
        /// How many writes, and how many bytes of them, may wait for the next commit group (they
        /// gather while the disk syncs the group before) before writes are turned away as overload.
        public var waitingWriteLimit = 65_536
        public var waitingWriteBytes = 64 << 20
        /// etcd's `--experimental-corrupt-check-time`: how often the whole store is checked again
        /// while serving, as at start; nil: at start only. (etcd compares hashes with its peers at
        /// this interval; a member of a cluster of one has only itself to check.)
        public var corruptCheckInterval: Duration?

        public init(listenEndpoint: String, eventsEndpoint: String) {
            self.listenEndpoint = listenEndpoint
            self.eventsEndpoint = eventsEndpoint
        }
    }

    private let store: MVCCStore
    private let configuration: Configuration
    private let logger: Logger
    private let server: BusServer
    private let publisher: EventPublisher
    private let readers: BusWorkQueue
    private let snapshots: SnapshotTransfers?
    private let operations = OperationCounters()
    /// Writes received and not yet handed to the store. Each batch is committed as one group with
    /// one sync, off the bus thread, which keeps answering heartbeats and reads however long the disk
    /// takes; the writes that arrive during one sync form the next group, so a slow disk makes groups
    /// larger, never the bus thread slower.
    private let writes: BusBatchLine<PendingWrite>

    /// Binds both endpoints; throws if either is taken, or if the snapshot directory cannot be made.
    public init(store: MVCCStore, configuration: Configuration, logger: Logger) throws {
        self.store = store
        self.configuration = configuration
        self.logger = logger
        snapshots = try configuration.snapshotDirectory.map {
            try SnapshotTransfers(
                directory: $0, idleTimeout: configuration.snapshotIdleTimeout, partSize: configuration.snapshotPartSize,
                maximumTransfers: configuration.maximumSnapshotTransfers)
        }
        readers = BusWorkQueue(label: "kv-readers", concurrency: configuration.readWorkers, waitingLimit: configuration.waitingReadLimit)
        writes = BusBatchLine(
            label: "kv-commit", waitingLimit: configuration.waitingWriteLimit, byteLimit: configuration.waitingWriteBytes
        ) { [store] in store.write($0) }
        server = try BusServer(bind: configuration.listenEndpoint, logger: logger)
        publisher = try EventPublisher(bind: configuration.eventsEndpoint, logger: logger)
    }

    public func run() async throws {
        defer { snapshots?.discardAll() }
        await checkIntegrity(.initial)
        let publisher = self.publisher
        store.onCommit { revisions in
            for revision in revisions {
                var message = Etcetera_Kv_StreamMessage()
                message.revision = revision
                publisher.publish(KVServer.encode(message))
            }
        }
        let logger = self.logger
        store.onAlarmChange { alarm, active in
            logger.warning(active ? "alarm raised" : "alarm disarmed", metadata: [
                "alarm": "\(alarm.alarm)", "member-id": "\(String(alarm.memberID, radix: 16))",
            ])
        }
        logger.info("kv service serving", metadata: [
            "listen": "\(configuration.listenEndpoint)", "events": "\(configuration.eventsEndpoint)",
            "revision": "\(store.currentRevision)",
        ])
        if store.isAlarmActive(.corrupt) {
            logger.warning("alarm CORRUPT is active: kv requests are refused until it is deactivated")
        }
        try await withGracefulShutdownHandler {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await self.server.run { self.handle($0) } afterEachBatch: { self.writes.startIfWaiting() }
                }
                group.addTask { try await self.sendHeartbeats() }
                if let snapshots { group.addTask { try await self.discardIdleSnapshots(snapshots) } }
                if let interval = configuration.corruptCheckInterval { group.addTask { try await self.checkIntegrityPeriodically(every: interval) } }
                try await group.next()
                group.cancelAll()
            }
        } onGracefulShutdown: {
            self.server.close()
        }
        publisher.close()
    }

    /// Which corruption check runs: the one at every start, or one of those while serving.
    private enum IntegrityCheck: String {
        case initial
        case periodic
    }

    /// etcd's initial corruption check, run at every start before serving, and, with
    /// `corruptCheckInterval`, again while serving: a store whose records do not hold together raises
    /// CORRUPT and then answers maintenance requests only (docs/storage.md).
    private func checkIntegrity(_ check: IntegrityCheck) async {
        let kind = check.rawValue
        logger.info("starting \(kind) corruption check", metadata: ["revision": "\(store.currentRevision)"])
        let store = self.store
        let report = await withCheckedContinuation { continuation in
            DispatchQueue(label: "kv-integrity-check").async { continuation.resume(returning: store.verifyIntegrity()) }
        }
        var metadata: Logger.Metadata = ["records": "\(report.recordsChecked)", "took": "\(report.duration)"]
        guard !report.isClean else {
            return logger.info("\(kind) corruption check passed; no corruption", metadata: metadata)
        }
        metadata["problems"] = "\(report.problemCount)"
        metadata["found"] = "\(report.problems.map(\.description).joined(separator: "; "))"
        do {
            try store.raiseCorruptAlarm()
            logger.error("\(kind) corruption check found corruption; alarm CORRUPT raised", metadata: metadata)
        } catch {
            metadata["error"] = "\(error)"
            logger.error("\(kind) corruption check found corruption; alarm CORRUPT raised until restart, recording it failed", metadata: metadata)
        }
    }

    /// The checks while serving, each `interval` after the previous one ended; none while CORRUPT is
    /// already raised.
    private func checkIntegrityPeriodically(every interval: Duration) async throws {
        while !Task.isCancelled {
            try await Task.sleep(for: interval)
            if !store.isAlarmActive(.corrupt) { await checkIntegrity(.periodic) }
        }
    }

    private func sendHeartbeats() async throws {
        while !Task.isCancelled {
            try await Task.sleep(for: configuration.heartbeatInterval)
            var message = Etcetera_Kv_StreamMessage()
            message.heartbeat = store.status()
            publisher.publish(Self.encode(message))
        }
    }

    private func discardIdleSnapshots(_ snapshots: SnapshotTransfers) async throws {
        let interval = min(configuration.snapshotIdleTimeout / 4, .seconds(5))
        while !Task.isCancelled {
            try await Task.sleep(for: interval)
            snapshots.discardIdle()
        }
    }

    /// Runs on the bus thread: decodes, keeps writes for the batch's commit, and sends reads that may
    /// scan to the bounded read workers, so the bus thread never waits on a long read.
    private func handle(_ incoming: BusIncomingRequest) {
        let request: Etcetera_Kv_KVRequest
        do {
            request = try Etcetera_Kv_KVRequest(serializedBytes: incoming.payload, options: MessageDepth.binaryDecodingOptions)
        } catch where MessageDepth.isTooDeep(error) {
            return incoming.reply(Self.encode(Self.errorReply(.tooManyOperations)))
        } catch {
            logger.warning("dropping undecodable kv request", metadata: ["bytes": "\(incoming.payload.count)"])
            return incoming.reply(Self.encode(Self.errorReply(code: "bus.malformed_request", detail: "undecodable KVRequest")))
        }
        let write: WriteRequest
        switch request.request {
        case .put(let put): write = .put(put)
        case .deleteRange(let delete): write = .deleteRange(delete)
        case .compact(let compaction): write = .compact(compaction)
        case .txn(let txn) where !txn.isReadOnly: write = .txn(txn)
        case .registerLeases(let register): write = .registerLeases(register.leases.map { ($0.id, $0.ttl) })
        case .revokeLease(let revoke): write = .revokeLease(revoke.id)
        case .range(let range) where range.rangeEnd.isEmpty && range.revision == 0:
            // A point read at the head is a single lookup: cheaper to serve here than to hand over.
            return incoming.reply(Self.encode(read(request)))
        case .range, .txn, .events, .status, .leaseKeys, .hashKv, .hash, .alarm:
            return readers.submit(incoming) { incoming.reply(Self.encode(self.read(request))) }
        case .defragment:
            return readers.submit(incoming) { incoming.reply(Self.encode(self.defragment())) }
        case .snapshot(let snapshot):
            guard let snapshots else {
                return incoming.reply(Self.encode(Self.errorReply(code: "snapshot.unavailable", detail: "this kv service keeps no snapshots")))
            }
            return readers.submit(incoming) { incoming.reply(Self.encode(snapshots.reply(to: snapshot, store: self.store))) }
        case nil:
            return incoming.reply(Self.encode(Self.errorReply(code: "bus.malformed_request", detail: "empty KVRequest")))
        }
        let operations = self.operations
        let pending = PendingWrite(write) { result in
            var reply = Etcetera_Kv_KVReply()
            switch result {
            case .success(.put(let response)): reply.put = response
            case .success(.deleteRange(let response)): reply.deleteRange = response
            case .success(.txn(let response)): reply.txn = response
            case .success(.compact(let response)): reply.compact = response
            case .success(.registerLeases(let revision)): reply.leasesRegistered.revision = revision
            case .success(.revokeLease(let response)): reply.revokeLease = response
            case .failure(let error): reply = Self.errorReply(error)
            }
            operations.record(request.request, reply.reply)
            incoming.reply(Self.encode(reply))
        }
        writes.append(incoming, pending)
    }

    private func read(_ request: Etcetera_Kv_KVRequest) -> Etcetera_Kv_KVReply {
        var reply = Etcetera_Kv_KVReply()
        do {
            switch request.request {
            case .range(let range): reply.range = try store.range(range)
            case .txn(let txn): reply.txn = try store.readOnlyTxn(txn)
            case .events(let events):
                reply.events = try store.events(
                    from: events.startRevision, through: events.endRevision,
                    maxRevisions: events.maxRevisions > 0 ? Int(clamping: events.maxRevisions) : 1000)
            case .status:
                reply.status = store.status()
                reply.status.operations = operations.current
            case .hashKv(let request): reply.hashKv = try store.hashKV(revision: request.revision)
            case .hash: reply.hash = store.hash()
            case .alarm(let request):
                reply.alarm = try store.alarm(request)
            case .leaseKeys(let request):
                let (keys, revision) = try store.leaseKeys(request.id)
                var found = Etcetera_Kv_LeaseKeys()
                found.keys = keys.map { Data($0) }
                found.revision = revision
                reply.leaseKeys = found
            default: return Self.errorReply(code: "bus.malformed_request", detail: "not a read")
            }
        } catch {
            return Self.errorReply(error)
        }
        operations.record(request.request, reply.reply)
        return reply
    }

    /// Runs off the bus thread: the storage engine rewrites its files while reads and writes go on.
    private func defragment() -> Etcetera_Kv_KVReply {
        let before = store.sizeOnDisk
        let started = ContinuousClock.now
        logger.info("starting to defragment the storage backend", metadata: ["size": "\(before)"])
        store.defragment()
        logger.info("finished defragmenting the storage backend", metadata: [
            "took": "\(ContinuousClock.now - started)", "size-before": "\(before)", "size-after": "\(store.sizeOnDisk)",
        ])
        var reply = Etcetera_Kv_KVReply()
        reply.defragment = Etcdserverpb_DefragmentResponse()
        return reply
    }

    static func errorReply(_ error: MVCCError) -> Etcetera_Kv_KVReply {
        errorReply(code: error.code, detail: error.detail)
    }

    static func errorReply(code: String, detail: String) -> Etcetera_Kv_KVReply {
        var reply = Etcetera_Kv_KVReply()
        reply.error.code = code
        reply.error.detail = detail
        return reply
    }

    static func encode<Message: SwiftProtobuf.Message>(_ message: Message) -> [UInt8] {
        (try? message.serializedBytes()) ?? []
    }
}
