import Foundation
import TestSupport
import Testing

/// `/metrics` on the client port and on `--listen-metrics-urls`, read by python's prometheus_client:
/// the metrics etcd also exports carry etcd's names, types, help texts and label names (compared with
/// a real etcd 3.4 in the same test), and the counters follow the traffic.
@Suite("Prometheus metrics against real etcd", .serialized, .timeLimit(.minutes(10)))
struct MetricsTests {
    /// What Etcetera exports under etcd's names; each must match etcd's own series of that name.
    static let etcdSeries = [
        "grpc_server_started_total", "grpc_server_handled_total", "grpc_server_msg_received_total", "grpc_server_msg_sent_total",
        "etcd_mvcc_db_total_size_in_bytes", "etcd_mvcc_db_total_size_in_use_in_bytes", "etcd_debugging_mvcc_keys_total",
        "etcd_mvcc_put_total", "etcd_mvcc_delete_total", "etcd_mvcc_range_total", "etcd_mvcc_txn_total",
        "etcd_debugging_mvcc_current_revision", "etcd_debugging_mvcc_compact_revision", "etcd_server_has_leader",
        "etcd_server_is_leader", "etcd_server_quota_backend_bytes", "etcd_server_version", "etcd_cluster_version",
        "etcd_debugging_mvcc_watcher_total", "etcd_debugging_mvcc_watch_stream_total", "etcd_debugging_lease_granted_total",
        "etcd_debugging_lease_revoked_total", "etcd_debugging_lease_renewed_total", "etcd_debugging_server_lease_expired_total",
    ]

    /// Etcetera's own series (docs/metrics.md).
    static let etceteraSeries = [
        "etcetera_gateway_request_duration_seconds_bucket", "etcetera_gateway_request_duration_seconds_count",
        "etcetera_bus_request_duration_seconds_bucket", "etcetera_bus_request_duration_seconds_count",
        "etcetera_service_up", "etcetera_watch_processes", "etcetera_watch_processes_up", "etcetera_leases",
    ]

    @Test("names, types, help texts and labels are etcd's; counters move with puts and ranges; /health on the metrics port")
    func scrape() async throws {
        let etcdMetricsPort = FreePort.pick()
        let etcd = try await ServerProcess.etcd(extraArguments: ["--listen-metrics-urls", "http://127.0.0.1:\(etcdMetricsPort)"])
        defer { etcd.stop() }
        let metricsPort = FreePort.pick()
        let etcetera = try await ServerProcess.etcetera(extraArguments: ["--listen-metrics-urls", "http://127.0.0.1:\(metricsPort)"])
        defer { etcetera.stop() }
        // One call of each kind on both, so that both have the labelled series.
        for server in [etcd, etcetera] {
            #expect(try await Etcdctl.run(["put", "warm", "up"], endpoint: server.endpoint).stdout == "OK\n")
        }

        let reference = try await PrometheusScrape.scrape(port: etcdMetricsPort)
        let before = try await PrometheusScrape.scrape(port: etcetera.port)
        for name in Self.etcdSeries {
            let expected = try #require(reference[name], "etcd exports \(name)")
            let actual = try #require(before[name], "Etcetera exports \(name)")
            #expect(actual.type == expected.type, "\(name)")
            #expect(actual.help == expected.help, "\(name)")
            #expect(Set(actual.samples.flatMap(\.labels.keys)) == Set(expected.samples.flatMap(\.labels.keys)), "\(name)")
        }
        for name in Self.etceteraSeries {
            #expect(before[name] != nil, "Etcetera exports \(name)")
        }
        #expect(before["etcetera_service_up"]?.samples.count == 5, "kv, lease, maintenance, auth, watch")
        #expect(before["etcetera_service_up"]?.samples.allSatisfy { $0.value == 1 } == true)
        #expect(before["etcd_server_version"]?.value(["server_version": "3.4.23"]) == 1)

        let count = 25
        try await withEtcdClient(port: etcetera.port) { client in
            for index in 0..<count {
                _ = try await client.kv.put(Build.put("metrics-\(index)", "v"))
                _ = try await client.kv.range(Build.get("metrics-\(index)"))
            }
        }
        let lease = try await Etcdctl.grantLease(ttl: 60, endpoint: etcetera.endpoint)
        #expect(try await Etcdctl.run(["lease", "keep-alive", "--once", lease], endpoint: etcetera.endpoint).status == 0)
        #expect(try await Etcdctl.run(["lease", "revoke", lease], endpoint: etcetera.endpoint).status == 0)
        // A call through the JSON gateway counts as a gRPC call, as etcd's grpc-gateway makes one.
        let jsonPut = try PlainHTTP.request("POST", "/v3/kv/put", port: etcetera.port, body: #"{"key":"anNvbg==","value":"dg=="}"#)
        #expect(jsonPut.status == 200)
        let after = try await PrometheusScrape.scrape(port: metricsPort)
        func moved(_ name: String, _ labels: [String: String] = [:]) throws -> Double {
            let old = before[name]?.value(labels) ?? 0
            let new = try #require(after[name]?.value(labels), "\(name) \(labels)")
            return new - old
        }
        let put = ["grpc_service": "etcdserverpb.KV", "grpc_method": "Put"]
        let range = ["grpc_service": "etcdserverpb.KV", "grpc_method": "Range"]
        let n = Double(count)
        #expect(try moved("grpc_server_handled_total", put.merging(["grpc_code": "OK"]) { $1 }) >= n + 1)
        #expect(try moved("grpc_server_handled_total", range.merging(["grpc_code": "OK"]) { $1 }) >= n)
        #expect(try moved("grpc_server_started_total", put) >= n)
        #expect(try moved("grpc_server_msg_received_total", range) >= n)
        #expect(try moved("grpc_server_msg_sent_total", range) >= n)
        #expect(try moved("etcetera_gateway_request_duration_seconds_count", put) >= n)
        #expect(try moved("etcetera_bus_request_duration_seconds_count", ["service": "kv"]) >= 2 * n)
        #expect(try moved("etcd_mvcc_put_total") >= n)
        #expect(try moved("etcd_mvcc_range_total") >= n)
        #expect(try moved("etcd_debugging_mvcc_keys_total") == n + 1)
        #expect(try moved("etcd_debugging_mvcc_current_revision") == n + 1)
        #expect(try moved("etcd_debugging_lease_granted_total") == 1)
        #expect(try moved("etcd_debugging_lease_renewed_total") == 1)
        #expect(try moved("etcd_debugging_lease_revoked_total") == 1)
        #expect(after["etcetera_leases"]?.value() == 0)

        // The metrics listener answers /health and nothing but /health and /metrics, as etcd's does.
        for path in ["/health", "/version", "/nope"] {
            let expected = try PlainHTTP.request("GET", path, port: etcdMetricsPort)
            let actual = try PlainHTTP.request("GET", path, port: metricsPort)
            #expect(actual == expected, "\(path)")
        }
        let metrics = try PlainHTTP.request("GET", "/metrics", port: etcetera.port)
        #expect(metrics.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
        #expect(metrics.headers["access-control-allow-origin"] == "*", "the client port's CORS headers, as etcd's")
    }
}
