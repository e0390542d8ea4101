import Bus
import Dispatch
import EtceteraAPI
import Foundation
import KVClient
import Lease
import Logging
import ServiceLifecycle
import ServiceSupport
import Storage
import SwiftProtobuf

/// The lease service on the bus: etcd's Lease API over a ``Lessor``, with the kv store holding the
/// keys (docs/lease.md). Grants are registered with the kv store before they are acknowledged;
/// revokes and expiries delete the lease's keys through the kv store before the lease is forgotten.
///
/// Every request, kv answer and timer runs on one serial queue, in arrival order; requests wait for it in
/// a bounded line.
public final class LeaseServer: Service, Sendable {
    public struct Configuration: Sendable {
        /// Where gateways send lease requests.
        public var listenEndpoint: String
        /// The kv service's request/reply endpoint.
        public var kvEndpoint: String
        public var lessor = Lessor.Configuration()
        /// How often expired leases are looked for (etcd checks every 500 ms).
        public var expiryCheckInterval: Duration = .milliseconds(500)
        /// etcd's `--experimental-enable-lease-checkpoint`: every `lessor.checkpointInterval` the time
        /// left of long leases is recorded, and a restart resumes from it (``Lessor/checkpoint(now:)``).
        public var checkpoints = false
        /// How many requests, and how many bytes of them, may wait for the lessor's queue before more
        /// are turned away as overload (``BusSerialLine``); a request let in runs however late.
        public var waitingRequestLimit = 65_536
        public var waitingRequestBytes = 64 << 20

        public init(listenEndpoint: String, kvEndpoint: String) {
            self.listenEndpoint = listenEndpoint
            self.kvEndpoint = kvEndpoint
        }
    }

    private let configuration: Configuration
    private let logger: Logger
    private let server: BusServer
    private let kv: KVClient
    private let queue = DispatchQueue(label: "lessor")
    private let requests: BusSerialLine
    private let state: QueueConfinedLessor
    private static let kvTimeout: Duration = .seconds(5)

    public init(configuration: Configuration, storage: any KeyValueStorage, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        var generator = SystemRandomNumberGenerator()
        let lessor = try Lessor(
            storage: storage, configuration: configuration.lessor,
            idGenerator: LeaseIDGenerator(
                memberID: generator.next(), startMilliseconds: UInt64(Date().timeIntervalSince1970 * 1000)),
            now: .now)
        state = QueueConfinedLessor(lessor)
        requests = BusSerialLine(
            queue: queue, waitingLimit: configuration.waitingRequestLimit, byteLimit: configuration.waitingRequestBytes)
        kv = try KVClient(endpoint: configuration.kvEndpoint, logger: logger)
        server = try BusServer(bind: configuration.listenEndpoint, logger: logger)
    }

    public func run() async throws {
        guard try await untilGracefulShutdown({ try await self.registerRestoredLeases() }) != nil else {
            server.close()
            return kv.close()
        }
        logger.info("lease service serving", metadata: [
            "listen": "\(configuration.listenEndpoint)", "leases": "\(queue.sync { state.lessor.leaseIDs.count })",
        ])
        let timer = DispatchSource.repeatingTimer(every: configuration.expiryCheckInterval, on: queue) { [self] in
            revokeExpired()
        }
        defer { timer.cancel() }
        let checkpointTimer = configuration.checkpoints
            ? DispatchSource.repeatingTimer(every: configuration.lessor.checkpointInterval, on: queue) { [self] in checkpoint() }
            : nil
        defer { checkpointTimer?.cancel() }
        try await withGracefulShutdownHandler {
            try await server.run { self.handle($0) }
        } onGracefulShutdown: {
            self.server.close()
        }
        kv.close()
    }

    /// Records the time left of long leases; a failed write is logged and tried at the next interval
    /// (a restart meanwhile resumes those leases from their previous checkpoint or full TTL).
    private func checkpoint() {
        do {
            let count = try state.lessor.checkpoint(now: .now)
            if count > 0 { logger.debug("lease checkpoint", metadata: ["leases": "\(count)"]) }
        } catch {
            logger.error("lease checkpoint failed", metadata: ["error": "\(error)"])
        }
    }

    /// The kv store must accept puts with every lease this service still has, whatever it lost.
    private func registerRestoredLeases() async throws {
        let leases = queue.sync { state.lessor.allLeases }
        var request = Etcetera_Kv_KVRequest()
        request.registerLeases.leases = leases.map(Self.registration)
        while true {
            do {
                if case .leasesRegistered = try await kv.request(request, timeout: Self.kvTimeout) { return }
                logger.warning("kv refused the lease registration")
            } catch {
                logger.info("waiting for the kv service", metadata: ["error": "\(error)"])
            }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    // MARK: Requests

    /// Runs on the bus thread: decodes and posts to the lessor's queue, through its bounded line.
    private func handle(_ incoming: BusIncomingRequest) {
        guard let request = try? Etcetera_Lease_LeaseRequest(serializedBytes: incoming.payload), let body = request.request else {
            return incoming.reply(Self.encode(Self.error("bus.malformed_request", "undecodable LeaseRequest")))
        }
        requests.submit(incoming) { [self] in
            switch body {
            case .grant(let grant): self.grant(grant, incoming)
            case .revoke(let revoke): self.revoke(revoke.id, incoming)
            case .keepAlive(let keepAlive): incoming.reply(Self.encode(self.keepAlive(keepAlive.id)))
            case .timeToLive(let request): self.timeToLive(request, incoming)
            case .leases: self.withCurrentRevision { incoming.reply(Self.encode(self.leases())) }
            case .stats:
                var stats = state.stats
                stats.leases = Int64(state.lessor.leaseCount)
                incoming.reply(Self.encode(.stats(stats)))
            }
        }
    }

    private func grant(_ request: Etcdserverpb_LeaseGrantRequest, _ incoming: BusIncomingRequest) {
        let lease: Lessor.Lease
        do {
            lease = try state.lessor.grant(id: request.id, ttl: request.ttl, now: .now)
        } catch {
            return incoming.reply(Self.encode(Self.reply(for: error)))
        }
        var register = Etcetera_Kv_KVRequest()
        register.registerLeases.leases = [Self.registration(lease)]
        askKV(register) { [self] result in
            guard case .success(.leasesRegistered(let registered)) = result else {
                try? state.lessor.beginRevoke(lease.id)
                if case .failure(let failure) = result, !failure.outcomeUnknown {
                    // The kv store refused it: forget it, so that it neither expires nor lingers.
                    try? state.lessor.finishRevoke(lease.id)
                } else {
                    withdraw(lease.id)
                }
                return incoming.reply(Self.encode(Self.reply(forKV: result)))
            }
            state.knownRevision = max(state.knownRevision, registered.revision)
            state.stats.granted += 1
            var response = Etcdserverpb_LeaseGrantResponse()
            response.header.revision = state.knownRevision
            response.id = lease.id
            response.ttl = lease.grantedTTL
            incoming.reply(Self.encode(.grant(response)))
        }
    }

    /// Revokes a lease whose grant was not acknowledged but whose registration the kv store may have
    /// committed (it did not answer in time, or went away). Forgetting such a lease would leave the
    /// kv store accepting puts that name it, and their keys would never expire; so it is revoked
    /// through the kv store as an expired lease is, every second until the kv store answers. The
    /// caller has begun the revoke.
    private func withdraw(_ id: Int64) {
        deleteKeys(of: id) { [self] revoked in
            guard revoked == nil else { return }
            queue.asyncAfter(deadline: .now() + Self.withdrawRetryInterval) { [self] in
                // Gone meanwhile if it expired and its revoke went through.
                guard (try? state.lessor.beginRevoke(id)) != nil else { return }
                withdraw(id)
            }
        }
    }

    private static let withdrawRetryInterval: DispatchTimeInterval = .seconds(1)

    private func revoke(_ id: Int64, _ incoming: BusIncomingRequest) {
        do {
            try state.lessor.beginRevoke(id)
        } catch {
            return incoming.reply(Self.encode(Self.reply(for: error)))
        }
        deleteKeys(of: id) { response in
            guard let response else { return incoming.reply(Self.encode(Self.error("bus.unavailable", "kv did not revoke"))) }
            incoming.reply(Self.encode(.revoke(response)))
        }
    }

    private func keepAlive(_ id: Int64) -> Etcetera_Lease_LeaseReply.OneOf_Reply {
        var response = Etcdserverpb_LeaseKeepAliveResponse()
        response.header.revision = state.knownRevision
        response.id = id
        // etcd answers an unknown or expired lease with TTL 0 rather than an error.
        if let ttl = try? state.lessor.renew(id, now: .now) {
            response.ttl = ttl
            state.stats.renewed += 1
        }
        return .keepAlive(response)
    }

    private func timeToLive(_ request: Etcdserverpb_LeaseTimeToLiveRequest, _ incoming: BusIncomingRequest) {
        var response = Etcdserverpb_LeaseTimeToLiveResponse()
        response.header.revision = state.knownRevision
        response.id = request.id
        guard let (remaining, granted) = try? state.lessor.timeToLive(request.id, now: .now) else {
            // etcd's answer for a lease it does not have.
            response.ttl = -1
            return incoming.reply(Self.encode(.timeToLive(response)))
        }
        response.ttl = remaining
        response.grantedTtl = granted
        guard request.keys else {
            return withCurrentRevision { [self, response] in
                var response = response
                response.header.revision = state.knownRevision
                incoming.reply(Self.encode(.timeToLive(response)))
            }
        }
        var keys = Etcetera_Kv_KVRequest()
        keys.leaseKeys.id = request.id
        askKV(keys) { [self, response] result in
            guard case .success(.leaseKeys(let found)) = result else { return incoming.reply(Self.encode(Self.reply(forKV: result))) }
            state.knownRevision = max(state.knownRevision, found.revision)
            var response = response
            response.header.revision = state.knownRevision
            response.keys = found.keys
            incoming.reply(Self.encode(.timeToLive(response)))
        }
    }

    private func leases() -> Etcetera_Lease_LeaseReply.OneOf_Reply {
        var response = Etcdserverpb_LeaseLeasesResponse()
        response.header.revision = state.knownRevision
        response.leases = state.lessor.leaseIDs.map { id in
            var status = Etcdserverpb_LeaseStatus()
            status.id = id
            return status
        }
        return .leases(response)
    }

    /// Runs `body` once the kv store's current revision is known (for etcd's response header); if the
    /// kv store does not answer, with the last revision heard.
    private func withCurrentRevision(_ body: @escaping @Sendable () -> Void) {
        var request = Etcetera_Kv_KVRequest()
        request.status = Etcetera_Kv_StoreStatusRequest()
        askKV(request) { [self] result in
            if case .success(.status(let status)) = result { state.knownRevision = max(state.knownRevision, status.revision) }
            body()
        }
    }

    // MARK: Expiry

    private func revokeExpired() {
        for id in state.lessor.takeExpired(now: .now, limit: 500) {
            logger.debug("lease expired", metadata: ["lease": "\(id)"])
            deleteKeys(of: id) { [self] revoked in
                if revoked != nil { state.stats.expired += 1 }
            }
        }
    }

    /// Asks the kv store to delete a revoking lease's keys, then forgets the lease; on a failure the
    /// lease goes back in line for expiry. `completion` gets the kv's answer, nil on failure.
    private func deleteKeys(of id: Int64, completion: @escaping @Sendable (Etcdserverpb_LeaseRevokeResponse?) -> Void) {
        var request = Etcetera_Kv_KVRequest()
        request.revokeLease.id = id
        askKV(request) { [self] result in
            var response: Etcdserverpb_LeaseRevokeResponse?
            switch result {
            case .success(.revokeLease(let revoked)):
                response = revoked
            case .failure(let error) where error.code == "lease.not_found":
                // The kv store never had it (its registration was lost): there are no keys to delete.
                var empty = Etcdserverpb_LeaseRevokeResponse()
                empty.header.revision = state.knownRevision
                response = empty
            default:
                logger.warning("lease revoke failed; will retry", metadata: ["lease": "\(id)", "result": "\(result)"])
                state.lessor.abandonRevoke(id)
                return completion(nil)
            }
            state.stats.revoked += 1
            do {
                try state.lessor.finishRevoke(id)
            } catch {
                logger.error("cannot forget a revoked lease", metadata: ["lease": "\(id)", "error": "\(error)"])
            }
            if let response { state.knownRevision = max(state.knownRevision, response.header.revision) }
            completion(response)
        }
    }

    // MARK: Plumbing

    /// Sends a request to the kv store; `completion` runs on the lessor's queue.
    private func askKV(_ request: Etcetera_Kv_KVRequest, completion: @escaping @Sendable (Result<Etcetera_Kv_KVReply.OneOf_Reply, KVFailure>) -> Void) {
        kv.request(request, timeout: Self.kvTimeout, on: queue, completion: completion)
    }

    /// A lease as the kv store registers it: its ID and granted TTL.
    private static func registration(_ lease: Lessor.Lease) -> Etcetera_Kv_Lease {
        var registration = Etcetera_Kv_Lease()
        registration.id = lease.id
        registration.ttl = lease.grantedTTL
        return registration
    }

    private static func reply(forKV result: Result<Etcetera_Kv_KVReply.OneOf_Reply, KVFailure>) -> Etcetera_Lease_LeaseReply {
        if case .failure(let failure) = result { return error(failure.code, failure.detail) }
        return error("bus.malformed_reply", "unexpected kv reply")
    }

    private static func reply(for failure: Lessor.Failure) -> Etcetera_Lease_LeaseReply {
        switch failure {
        case .notFound: error("lease.not_found", "")
        case .exists: error("lease.exists", "")
        case .ttlTooLarge: error("lease.ttl_too_large", "")
        case .storage(let detail): error("storage.failure", detail)
        }
    }

    private static func error(_ code: String, _ detail: String) -> Etcetera_Lease_LeaseReply {
        var reply = Etcetera_Lease_LeaseReply()
        reply.error.code = code
        reply.error.detail = detail
        return reply
    }

    private static func encode(_ reply: Etcetera_Lease_LeaseReply) -> [UInt8] {
        (try? reply.serializedBytes()) ?? []
    }

    private static func encode(_ body: Etcetera_Lease_LeaseReply.OneOf_Reply) -> [UInt8] {
        var reply = Etcetera_Lease_LeaseReply()
        reply.reply = body
        return encode(reply)
    }
}

/// What only the lessor's queue touches.
private final class QueueConfinedLessor: @unchecked Sendable {
    let lessor: Lessor
    /// The kv store's revision as last heard, for response headers.
    var knownRevision: Int64 = 0
    /// Counted as etcd counts its lease metrics; `leases` is filled when asked.
    var stats = Etcetera_Lease_LeaseStats()

    init(_ lessor: Lessor) {
        self.lessor = lessor
    }
}
