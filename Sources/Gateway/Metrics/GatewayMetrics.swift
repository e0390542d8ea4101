import EtceteraAPI
import Prometheus
import ServiceSupport
import SwiftProtobuf

/// Everything `/metrics` reports, on the client port and on `--listen-metrics-urls` (docs/metrics.md).
///
/// What the gateway measures itself (gRPC calls, bus round trips) lives in a swift-prometheus registry.
/// What lives in other processes is read when scraped: the kv store's status and the lease service's
/// counts (one bus round trip each, in parallel, neither of which scans anything), the backends'
/// liveness as the bus's heartbeats tell it, and the watch streams the gateway holds for its clients.
/// Nothing is cached, so a scrape shows the state of the moment.
final class GatewayMetrics: Sendable {
    /// Buckets for call and round-trip latencies: from 100 µs, since a bus round trip on one machine
    /// takes tens of microseconds, up to etcd's request timeout range.
    static let latencyBuckets: [Duration] = [
        .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .microseconds(2500),
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
    ]

    private static var busRoundTrip: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "etcetera", subsystem: "bus", metricName: "request_duration", unitName: "seconds",
            helpText: "Time from a request the gateway sends on the bus to its reply (or its failure), by backend service.")
    }

    /// What a scrape reads besides the registry.
    struct Sources: Sendable {
        var kv: ServiceBackend
        var lease: ServiceBackend?
        /// Request/reply services by the name `etcetera_service_up` gives them.
        var services: [(name: String, backend: ServiceBackend)]
        var watch: WatchBackend
    }

    let registry = PrometheusCollectorRegistry()

    /// The histogram of bus round trips to `service`.
    func roundTrips(to service: String) -> DurationHistogram {
        registry.makeDurationHistogram(descriptor: Self.busRoundTrip, labels: [("service", service)], buckets: Self.latencyBuckets)
    }

    /// The whole exposition: the values read now, then the registry's.
    func scrape(_ sources: Sources) async -> String {
        async let store = Self.storeStatus(sources.kv)
        async let leases = Self.leaseStats(sources.lease)
        var text = ExpositionText()
        if let store = await store { Self.write(store, into: &text) }
        if let leases = await leases { Self.write(leases, into: &text) }
        Self.writeMember(into: &text)
        Self.writeLiveness(sources, into: &text)
        Self.writeWatch(sources.watch, into: &text)
        return text.text + registry.emitToString()
    }

    private static func storeStatus(_ kv: ServiceBackend) async -> Etcetera_Kv_StoreStatus? {
        var request = Etcetera_Kv_KVRequest()
        request.status = Etcetera_Kv_StoreStatusRequest()
        guard case .status(let store)? = try? await kv.call(request) else { return nil }
        return store
    }

    private static func leaseStats(_ lease: ServiceBackend?) async -> Etcetera_Lease_LeaseStats? {
        guard let lease else { return nil }
        var request = Etcetera_Lease_LeaseRequest()
        request.stats = Etcetera_Lease_LeaseStatsRequest()
        let payload: [UInt8] = (try? request.serializedBytes()) ?? []
        guard case .success(let bytes) = await lease.exchange(payload),
              case .stats(let stats)? = (try? Etcetera_Lease_LeaseReply(serializedBytes: bytes))?.reply
        else { return nil }
        return stats
    }

    /// etcd's lease counters, with etcd's names and help texts, and how many leases there are now.
    private static func write(_ leases: Etcetera_Lease_LeaseStats, into text: inout ExpositionText) {
        text.single(
            "etcd_debugging_lease_granted_total", .counter, help: "The total number of granted leases.", value: Int64(leases.granted))
        text.single(
            "etcd_debugging_lease_revoked_total", .counter, help: "The total number of revoked leases.", value: Int64(leases.revoked))
        text.single(
            "etcd_debugging_lease_renewed_total", .counter,
            help: "The number of renewed leases seen by the leader.", value: Int64(leases.renewed))
        text.single(
            "etcd_debugging_server_lease_expired_total", .counter,
            help: "The total number of expired leases.", value: Int64(leases.expired))
        text.single("etcetera_leases", .gauge, help: "Leases the lease service holds now, expired ones not yet revoked included.", value: leases.leases)
    }

    /// etcd's mvcc and quota metrics, with etcd's names and help texts, from the kv store's status.
    private static func write(_ store: Etcetera_Kv_StoreStatus, into text: inout ExpositionText) {
        text.single(
            "etcd_mvcc_db_total_size_in_bytes", .gauge,
            help: "Total size of the underlying database physically allocated in bytes.", value: store.dbSize)
        text.single(
            "etcd_mvcc_db_total_size_in_use_in_bytes", .gauge,
            help: "Total size of the underlying database logically in use in bytes.", value: store.dbSizeInUse)
        text.single("etcd_debugging_mvcc_keys_total", .gauge, help: "Total number of keys.", value: store.keyCount)
        text.single(
            "etcd_debugging_mvcc_current_revision", .gauge, help: "The current revision of store.", value: store.revision)
        text.single(
            "etcd_debugging_mvcc_compact_revision", .gauge,
            help: "The revision of the last compaction in store.", value: store.compactRevision)
        let operations = store.operations
        text.single("etcd_mvcc_range_total", .counter, help: "Total number of ranges seen by this member.", value: Int64(operations.ranges))
        text.single("etcd_mvcc_put_total", .counter, help: "Total number of puts seen by this member.", value: Int64(operations.puts))
        text.single("etcd_mvcc_delete_total", .counter, help: "Total number of deletes seen by this member.", value: Int64(operations.deletes))
        text.single("etcd_mvcc_txn_total", .counter, help: "Total number of txns seen by this member.", value: Int64(operations.txns))
        if store.quotaBackendBytes > 0 {
            text.single(
                "etcd_server_quota_backend_bytes", .gauge,
                help: "Current backend storage quota size in bytes.", value: store.quotaBackendBytes)
        }
    }

    /// A single member is its own leader: etcd's leader gauges are constant here, as they are in a
    /// one-member etcd.
    private static func writeMember(into text: inout ExpositionText) {
        text.single("etcd_server_has_leader", .gauge, help: "Whether or not a leader exists. 1 is existence, 0 is not.", value: 1)
        text.single("etcd_server_is_leader", .gauge, help: "Whether or not this member is a leader. 1 if is, 0 otherwise.", value: 1)
        text.family(
            "etcd_server_version", .gauge, help: "Which version is running. 1 for 'server_version' label with current version.",
            samples: [([("server_version", EtceteraVersion.etcdServer)], 1)])
        text.family(
            "etcd_cluster_version", .gauge,
            help: "Which version is running. 1 for 'cluster_version' label with current cluster version",
            samples: [([("cluster_version", EtceteraVersion.etcdAPI)], 1)])
    }

    private static func writeLiveness(_ sources: Sources, into text: inout ExpositionText) {
        let watch = sources.watch.liveProcesses
        let services = [("kv", sources.kv.isAlive)] + sources.services.map { ($0.name, $0.backend.isAlive) }
            + (watch.known > 0 ? [("watch", watch.live > 0)] : [])
        text.family(
            "etcetera_service_up", .gauge,
            help: "Whether the gateway hears a backend service's bus heartbeats: 1 if it does, 0 otherwise (watch: any process).",
            samples: services.map { ([("service", $0.0)], $0.1 ? 1 : 0) })
        text.single(
            "etcetera_watch_processes", .gauge, help: "Watch fan-out processes the gateway knows and spreads Watch streams over.",
            value: Int64(watch.known))
        text.single(
            "etcetera_watch_processes_up", .gauge, help: "Watch fan-out processes whose bus heartbeats the gateway hears.",
            value: Int64(watch.live))
    }

    private static func writeWatch(_ watch: WatchBackend, into text: inout ExpositionText) {
        let open = watch.openStreams
        text.single("etcd_debugging_mvcc_watch_stream_total", .gauge, help: "Total number of watch streams.", value: Int64(open.streams))
        text.single("etcd_debugging_mvcc_watcher_total", .gauge, help: "Total number of watchers.", value: Int64(open.watchers))
    }
}
