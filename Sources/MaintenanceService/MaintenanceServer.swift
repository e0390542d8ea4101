import Bus
import Cluster
import Dispatch
import EtceteraAPI
import KVClient
import Logging
import Maintenance
import ServiceLifecycle
import ServiceSupport
import SwiftProtobuf

/// The maintenance service on the bus: etcd's Maintenance and Cluster calls for the member
/// (docs/maintenance.md). The kv store does the work on its data (hashes, alarms, defragment,
/// snapshots); this service answers as the member — it stamps the member id on alarms, reports
/// Status in etcd's shape, answers membership for a cluster of one — and runs auto-compaction.
public final class MaintenanceServer: Service, Sendable {
    public struct Configuration: Sendable {
        /// Where gateways send maintenance and cluster requests.
        public var listenEndpoint: String
        /// The kv service's request/reply endpoint.
        public var kvEndpoint: String
        public var cluster: SingleMemberCluster
        /// `--auto-compaction-mode/-retention`; nil when off.
        public var autoCompaction: AutoCompaction?
        /// How long a defragment or the making of a snapshot may take (both scale with the store).
        public var longOperationTimeout: Duration = .seconds(3600)

        public init(listenEndpoint: String, kvEndpoint: String, cluster: SingleMemberCluster) {
            self.listenEndpoint = listenEndpoint
            self.kvEndpoint = kvEndpoint
            self.cluster = cluster
        }
    }

    private let configuration: Configuration
    private let logger: Logger
    private let server: BusServer
    private let kv: KVClient
    /// Kv answers and the auto-compaction timer run here.
    private let queue = DispatchQueue(label: "maintenance")
    private static let kvTimeout: Duration = .seconds(5)

    public init(configuration: Configuration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        kv = try KVClient(endpoint: configuration.kvEndpoint, logger: logger)
        server = try BusServer(bind: configuration.listenEndpoint, logger: logger)
    }

    public func run() async throws {
        guard let status = try await untilGracefulShutdown({ try await self.kv.waitForStatus() }) else {
            server.close()
            return kv.close()
        }
        let identity = configuration.cluster.identity
        logger.info("maintenance service serving", metadata: [
            "listen": "\(configuration.listenEndpoint)", "member-id": "\(String(identity.memberID, radix: 16))",
            "etcetera-version": "\(EtceteraVersion.current)", "etcd-version": "\(EtceteraVersion.etcdServer)",
            "auto-compaction": "\(configuration.autoCompaction.map { "\($0)" } ?? "off")",
        ])
        let compactor = configuration.autoCompaction.map { AutoCompactor(schedule: $0.makeSchedule(startingRevision: status.revision), server: self) }
        defer { compactor?.stop() }
        try await withGracefulShutdownHandler {
            try await server.run { self.handle($0) }
        } onGracefulShutdown: {
            self.server.close()
        }
        kv.close()
    }

    // MARK: Requests

    /// Runs on the bus thread: answers membership at once, sends the rest to the kv store.
    private func handle(_ incoming: BusIncomingRequest) {
        guard let request = try? Etcetera_Maintenance_MaintenanceRequest(serializedBytes: incoming.payload), let body = request.request else {
            return incoming.reply(Self.encode(.failure(KVFailure(code: "bus.malformed_request", detail: "undecodable MaintenanceRequest"))))
        }
        let cluster = configuration.cluster
        let answer: Answer = { incoming.reply(Self.encode($0)) }
        func answerCluster<Response>(_ body: () throws(ClusterError) -> Response, _ wrap: (Response) -> Etcetera_Maintenance_MaintenanceReply.OneOf_Reply) {
            do {
                answer(.success(wrap(try body())))
            } catch {
                answer(.failure(KVFailure(code: error.code, detail: error.detail)))
            }
        }
        switch body {
        case .status: status(answer)
        case .alarm(let request): alarm(request, answer)
        case .defragment(let request): defragment(request, answer)
        case .hash(let request): hash(request, answer)
        case .hashKv(let request): hashKV(request, answer)
        case .snapshot(let request): snapshot(request, answer)
        case .moveLeader(let request): answerCluster({ () throws(ClusterError) in try cluster.moveLeader(request) }, { .moveLeader($0) })
        case .memberList: answer(.success(.memberList(cluster.memberList())))
        case .memberAdd(let request): answerCluster({ () throws(ClusterError) in try cluster.memberAdd(request) }, { .memberAdd($0) })
        case .memberRemove(let request): answerCluster({ () throws(ClusterError) in try cluster.memberRemove(request) }, { .memberRemove($0) })
        case .memberUpdate(let request): answerCluster({ () throws(ClusterError) in try cluster.memberUpdate(request) }, { .memberUpdate($0) })
        case .memberPromote(let request): answerCluster({ () throws(ClusterError) in try cluster.memberPromote(request) }, { .memberPromote($0) })
        }
    }

    private typealias Answer = @Sendable (Result<Etcetera_Maintenance_MaintenanceReply.OneOf_Reply, KVFailure>) -> Void

    /// etcd's Status: sizes and the applied index from the store, the member as leader of its own
    /// cluster, and the active alarms as errors.
    private func status(_ answer: @escaping Answer) {
        var request = Etcetera_Kv_KVRequest()
        request.status = Etcetera_Kv_StoreStatusRequest()
        let identity = configuration.cluster.identity
        askKV(request, answer) { reply in
            guard case .status(let store) = reply else { return nil }
            var response = Etcdserverpb_StatusResponse()
            identity.fill(&response.header, revision: store.revision)
            response.version = EtceteraVersion.etcdServer
            response.dbSize = store.dbSize
            response.dbSizeInUse = store.dbSizeInUse
            response.leader = identity.memberID
            response.raftIndex = store.appliedIndex
            response.raftAppliedIndex = store.appliedIndex
            response.raftTerm = identity.raftTerm
            response.errors = store.alarms.map(\.etcdText)
            return .status(response)
        }
    }

    /// etcd's Alarm: the store keeps alarms per member id and type, and answers as etcd does; a
    /// change is logged. The response has no header, as etcd's.
    private func alarm(_ request: Etcdserverpb_AlarmRequest, _ answer: @escaping Answer) {
        var kvRequest = Etcetera_Kv_KVRequest()
        kvRequest.alarm = request
        askKV(kvRequest, answer) { reply in
            guard case .alarm(let response) = reply else { return nil }
            if request.action != .get {
                for alarm in response.alarms {
                    self.logger.notice(request.action == .activate ? "alarm raised" : "alarm disarmed", metadata: ["alarm": "\(alarm.etcdText)"])
                }
            }
            return .alarm(response)
        }
    }

    private func defragment(_ request: Etcdserverpb_DefragmentRequest, _ answer: @escaping Answer) {
        var kvRequest = Etcetera_Kv_KVRequest()
        kvRequest.defragment = request
        askKV(kvRequest, answer, timeout: configuration.longOperationTimeout) { reply in
            guard case .defragment(let response) = reply else { return nil }
            return .defragment(response)
        }
    }

    private func hash(_ request: Etcdserverpb_HashRequest, _ answer: @escaping Answer) {
        var kvRequest = Etcetera_Kv_KVRequest()
        kvRequest.hash = request
        let identity = configuration.cluster.identity
        askKV(kvRequest, answer, timeout: configuration.longOperationTimeout) { reply in
            guard case .hash(var response) = reply else { return nil }
            identity.fill(&response.header)
            return .hash(response)
        }
    }

    private func hashKV(_ request: Etcdserverpb_HashKVRequest, _ answer: @escaping Answer) {
        var kvRequest = Etcetera_Kv_KVRequest()
        kvRequest.hashKv = request
        let identity = configuration.cluster.identity
        askKV(kvRequest, answer, timeout: configuration.longOperationTimeout) { reply in
            guard case .hashKv(var response) = reply else { return nil }
            identity.fill(&response.header)
            return .hashKv(response)
        }
    }

    /// One part of a snapshot, read from the kv store as the gateway asks for it.
    private func snapshot(_ request: Etcetera_Kv_SnapshotRequest, _ answer: @escaping Answer) {
        var kvRequest = Etcetera_Kv_KVRequest()
        kvRequest.snapshot = request
        askKV(kvRequest, answer, timeout: configuration.longOperationTimeout) { reply in
            guard case .snapshot(let part) = reply else { return nil }
            return .snapshot(part)
        }
    }

    /// Sends `request` to the kv store and answers with `convert` of its reply (nil: a reply of the
    /// wrong kind), or with the kv's failure.
    private func askKV(
        _ request: Etcetera_Kv_KVRequest, _ answer: @escaping Answer, timeout: Duration = kvTimeout,
        convert: @escaping @Sendable (Etcetera_Kv_KVReply.OneOf_Reply) -> Etcetera_Maintenance_MaintenanceReply.OneOf_Reply?
    ) {
        kv.request(request, timeout: timeout, on: queue) { result in
            answer(result.flatMap { reply in
                convert(reply).map { .success($0) } ?? .failure(KVFailure(code: "bus.malformed_reply", detail: "unexpected kv reply"))
            })
        }
    }

    private static func encode(_ result: Result<Etcetera_Maintenance_MaintenanceReply.OneOf_Reply, KVFailure>) -> [UInt8] {
        var reply = Etcetera_Maintenance_MaintenanceReply()
        switch result {
        case .success(let body):
            reply.reply = body
        case .failure(let failure):
            reply.error.code = failure.code
            reply.error.detail = failure.detail
        }
        return (try? reply.serializedBytes()) ?? []
    }

    // MARK: Auto-compaction

    /// Drives an ``AutoCompactionSchedule`` on the service's queue: one tick per interval reads the
    /// store's revision, and a compaction the schedule asks for goes to the kv store as a client's
    /// Compact would.
    private final class AutoCompactor: @unchecked Sendable {
        private var schedule: any AutoCompactionSchedule
        private unowned let server: MaintenanceServer
        private let started = ContinuousClock.now
        private var timer: (any DispatchSourceTimer)?
        private var inFlight = false

        init(schedule: any AutoCompactionSchedule, server: MaintenanceServer) {
            self.schedule = schedule
            self.server = server
            timer = DispatchSource.repeatingTimer(every: schedule.tickInterval, on: server.queue) { [self] in tick() }
        }

        func stop() {
            server.queue.sync { timer?.cancel() }
        }

        /// Runs on the server's queue.
        private func tick() {
            guard !inFlight else { return }
            inFlight = true
            var status = Etcetera_Kv_KVRequest()
            status.status = Etcetera_Kv_StoreStatusRequest()
            server.kv.request(status, timeout: MaintenanceServer.kvTimeout, on: server.queue) { [self] result in
                guard case .success(.status(let store)) = result,
                      let target = schedule.tick(elapsed: ContinuousClock.now - started, revision: store.revision)
                else {
                    inFlight = false
                    return
                }
                compact(to: target)
            }
        }

        private func compact(to revision: Int64) {
            let logger = server.logger
            logger.info("starting auto compaction", metadata: ["revision": "\(revision)", "schedule": "\(schedule)"])
            var request = Etcetera_Kv_KVRequest()
            request.compact.revision = revision
            let began = ContinuousClock.now
            server.kv.request(request, timeout: MaintenanceServer.kvTimeout, on: server.queue) { [self] result in
                inFlight = false
                let succeeded: Bool
                switch result {
                case .success(.compact):
                    succeeded = true
                case .failure(let failure) where failure.code == "mvcc.compacted":
                    succeeded = true
                default:
                    succeeded = false
                }
                schedule.finished(revision: revision, elapsed: ContinuousClock.now - started, succeeded: succeeded)
                if succeeded {
                    logger.info("completed auto compaction", metadata: ["revision": "\(revision)", "took": "\(ContinuousClock.now - began)"])
                } else {
                    logger.warning("failed auto compaction; will retry", metadata: [
                        "revision": "\(revision)", "retry-interval": "\(schedule.tickInterval)", "error": "\(result)",
                    ])
                }
            }
        }
    }
}
