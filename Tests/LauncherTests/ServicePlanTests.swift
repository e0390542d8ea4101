import Foundation
import X509
import ServiceSupport
import Testing

@testable import Launcher

@Suite("Service plan", .timeLimit(.minutes(10)))
struct ServicePlanTests {
    @Test("kv, auth, lease, maintenance, watch, then gateway, with etcd's settings and ipc sockets in the data directory")
    func childCommandLines() throws {
        var configuration = EtcdConfiguration(name: "node1", dataDirectory: "/var/lib/etcetera")
        configuration.listenClientURLs = [try ClientURL("http://127.0.0.1:12379")]
        configuration.advertiseClientURLs = [try ClientURL("http://10.0.0.1:2379"), try ClientURL("http://10.0.0.2:2379")]
        configuration.maxTxnOps = 256
        configuration.maxRequestBytes = 2_000_000
        configuration.logLevel = .debug
        configuration.peerURLs = ["http://10.0.0.1:2380"]
        configuration.quotaBackendBytes = 53248
        configuration.autoCompactionMode = .revision
        configuration.autoCompactionRetention = "1000"
        configuration.authTokenTTL = 60
        configuration.bcryptCost = 12
        let plan = try ServicePlan(configuration: configuration, workingDirectory: "/ignored")

        #expect(plan.dataDirectory == "/var/lib/etcetera")
        #expect(plan.directories == ["/var/lib/etcetera", "/var/lib/etcetera/bus", "/var/lib/etcetera/member"])
        #expect(plan.clientURL.hostPort == "127.0.0.1:12379")
        #expect(plan.services == [
            ServiceSpec(
                name: "etcetera-kv",
                executable: "etcetera-kv",
                arguments: [
                    "--data-dir", "/var/lib/etcetera/member/kv",
                    "--listen", "ipc:///var/lib/etcetera/bus/kv.sock",
                    "--events", "ipc:///var/lib/etcetera/bus/kv-events.sock",
                    "--max-txn-ops", "256",
                    "--quota-backend-bytes", "53248",
                    "--name", "node1",
                    "--peer-urls", "http://10.0.0.1:2380",
                    "--compaction-batch-limit", "1000",
                    "--corrupt-check-interval-ms", "0",
                    "--log-level", "debug",
                ]
            ),
            ServiceSpec(
                name: "etcetera-auth",
                executable: "etcetera-auth",
                arguments: [
                    "--data-dir", "/var/lib/etcetera/member/auth",
                    "--listen", "ipc:///var/lib/etcetera/bus/auth.sock",
                    "--events", "ipc:///var/lib/etcetera/bus/auth-events.sock",
                    "--auth-token-ttl", "60",
                    "--auth-token", "simple",
                    "--bcrypt-cost", "12",
                    "--log-level", "debug",
                ]
            ),
            ServiceSpec(
                name: "etcetera-lease",
                executable: "etcetera-lease",
                arguments: [
                    "--data-dir", "/var/lib/etcetera/member/lease",
                    "--listen", "ipc:///var/lib/etcetera/bus/lease.sock",
                    "--kv", "ipc:///var/lib/etcetera/bus/kv.sock",
                    "--log-level", "debug",
                ]
            ),
            ServiceSpec(
                name: "etcetera-maintenance",
                executable: "etcetera-maintenance",
                arguments: [
                    "--listen", "ipc:///var/lib/etcetera/bus/maintenance.sock",
                    "--kv", "ipc:///var/lib/etcetera/bus/kv.sock",
                    "--name", "node1",
                    "--peer-urls", "http://10.0.0.1:2380",
                    "--client-urls", "http://10.0.0.1:2379,http://10.0.0.2:2379",
                    "--auto-compaction-mode", "revision",
                    "--auto-compaction-retention", "1000",
                    "--log-level", "debug",
                ]
            ),
            ServiceSpec(
                name: "etcetera-watch-0",
                executable: "etcetera-watch",
                arguments: [
                    "--listen", "ipc:///var/lib/etcetera/bus/watch-0.sock",
                    "--kv", "ipc:///var/lib/etcetera/bus/kv.sock",
                    "--kv-events", "ipc:///var/lib/etcetera/bus/kv-events.sock",
                    "--progress-notify-interval-ms", "600000",
                    "--log-level", "debug",
                ]
            ),
            ServiceSpec(
                name: "etcetera-gateway",
                executable: "etcetera-gateway",
                arguments: [
                    "--watch", "ipc:///var/lib/etcetera/bus/watch-0.sock",
                    "--name", "node1",
                    "--peer-urls", "http://10.0.0.1:2380",
                    "--listen-client-urls", "http://127.0.0.1:12379",
                    "--kv", "ipc:///var/lib/etcetera/bus/kv.sock",
                    "--lease", "ipc:///var/lib/etcetera/bus/lease.sock",
                    "--maintenance", "ipc:///var/lib/etcetera/bus/maintenance.sock",
                    "--auth", "ipc:///var/lib/etcetera/bus/auth.sock",
                    "--auth-events", "ipc:///var/lib/etcetera/bus/auth-events.sock",
                    "--max-request-bytes", "2000000",
                    "--max-concurrent-streams", "4294967295",
                    "--grpc-keepalive-min-time-ms", "5000",
                    "--grpc-keepalive-interval-ms", "7200000",
                    "--grpc-keepalive-timeout-ms", "20000",
                    "--client-idle-timeout-ms", "300000",
                    "--cors", "*",
                    "--host-whitelist", "*",
                    "--data-dir", "/var/lib/etcetera",
                    "--log-level", "debug",
                ]
            ),
        ])
    }

    @Test("--watch-processes runs that many watch processes, each on its own socket, all given to the gateway")
    func severalWatchProcesses() throws {
        var configuration = EtcdConfiguration(dataDirectory: "/d")
        configuration.watchProcesses = 3
        configuration.watchProgressNotifyIntervalMilliseconds = 5000
        let plan = try ServicePlan(configuration: configuration, workingDirectory: "/")
        #expect(plan.services.map(\.name) == [
            "etcetera-kv", "etcetera-auth", "etcetera-lease", "etcetera-maintenance", "etcetera-watch-0", "etcetera-watch-1",
            "etcetera-watch-2", "etcetera-gateway",
        ])
        #expect(plan.services[5].arguments.prefix(2) == ["--listen", "ipc:///d/bus/watch-1.sock"])
        #expect(plan.services[5].arguments.contains("5000"))
        let gateway = plan.services[7].arguments
        #expect(Array(gateway.prefix(6)) == [
            "--watch", "ipc:///d/bus/watch-0.sock", "--watch", "ipc:///d/bus/watch-1.sock", "--watch", "ipc:///d/bus/watch-2.sock",
        ])
    }

    @Test("a relative data directory is resolved against the working directory")
    func relativeDataDirectory() throws {
        let plan = try ServicePlan(configuration: EtcdConfiguration(), workingDirectory: "/home/op/./run/../work/")
        #expect(plan.dataDirectory == "/home/op/work/default.etcd")
        #expect(plan.bus.endpoint(of: ServicePlan.kvSocket) == "ipc:///home/op/work/default.etcd/bus/kv.sock")
        #expect(plan.services.map(\.executable) == [
            "etcetera-kv", "etcetera-auth", "etcetera-lease", "etcetera-maintenance", "etcetera-watch", "etcetera-gateway",
        ])
        let auth = plan.services[1].arguments
        #expect(auth.contains(["--data-dir", "/home/op/work/default.etcd/member/auth"]))
        #expect(auth.contains(["--auth-token-ttl", "300"]) && auth.contains(["--bcrypt-cost", "10"]), "etcd's defaults")
    }

    @Test("sockets move to a short directory under /tmp when the data directory is too deep")
    func longPathFallback() throws {
        let deep = "/" + String(repeating: "very-long-directory-name/", count: 4) + "data"
        let plan = try ServicePlan(configuration: EtcdConfiguration(dataDirectory: deep), workingDirectory: "/")
        #expect(plan.bus.usesFallback)
        #expect(plan.bus.directory.hasPrefix("/tmp/etcetera-"))
        #expect(plan.bus.directory.count == "/tmp/etcetera-".count + 16)
        #expect(plan.bus.endpoint(of: ServicePlan.kvSocket) == "ipc://\(plan.bus.directory)/kv.sock")
        #expect(plan.directories.last == plan.bus.directory)
        #expect(plan.services[0].arguments.contains("--data-dir"))
        #expect(plan.services[0].arguments[1] == deep + "/member/kv")
        for name in ServicePlan.socketNames {
            #expect(plan.bus.path(of: name).utf8.count <= BusLayout.maximumSocketPathLength)
        }

        let again = try ServicePlan(configuration: EtcdConfiguration(dataDirectory: deep), workingDirectory: "/")
        let other = try ServicePlan(configuration: EtcdConfiguration(dataDirectory: deep + "2"), workingDirectory: "/")
        #expect(again.bus == plan.bus)
        #expect(other.bus.directory != plan.bus.directory)
    }

    @Test("the fallback starts exactly where a socket path would exceed 107 bytes")
    func fallbackBoundary() {
        let longest = ServicePlan.socketNames.map(\.utf8.count).max() ?? 0
        #expect(longest == ServicePlan.maintenanceSocket.utf8.count)
        let fitting = "/" + String(repeating: "d", count: BusLayout.maximumSocketPathLength - longest - "/bus/".count - 1)
        let fits = BusLayout(dataDirectory: fitting, socketNames: ServicePlan.socketNames)
        #expect(!fits.usesFallback)
        #expect(fits.path(of: ServicePlan.maintenanceSocket).utf8.count == BusLayout.maximumSocketPathLength)
        let tooLong = BusLayout(dataDirectory: fitting + "d", socketNames: ServicePlan.socketNames)
        #expect(tooLong.usesFallback)
    }

    @Test("a plan needs an http:// or https:// listen URL")
    func needsHTTP() throws {
        var configuration = EtcdConfiguration()
        configuration.listenClientURLs = [try ClientURL("unix://etcd.sock")]
        #expect(throws: LauncherError.self) {
            try ServicePlan(configuration: configuration, workingDirectory: "/")
        }
    }

    @Test("the gateway serves the http:// metrics URLs and nothing else")
    func metricsURLs() throws {
        var configuration = EtcdConfiguration(name: "node1", dataDirectory: "/var/lib/etcetera")
        let withoutMetrics = try ServicePlan(configuration: configuration, workingDirectory: "/ignored")
        #expect(!(withoutMetrics.services.last?.arguments.contains("--listen-metrics-urls") ?? true))
        configuration.listenMetricsURLs = [
            try ClientURL("http://127.0.0.1:2381"), try ClientURL("https://127.0.0.1:2382"), try ClientURL("http://[::1]:2383"),
        ]
        let plan = try ServicePlan(configuration: configuration, workingDirectory: "/ignored")
        let gateway = try #require(plan.services.last)
        #expect(gateway.name == "etcetera-gateway")
        #expect(gateway.arguments.contains(["--listen-metrics-urls", "http://127.0.0.1:2381,http://[::1]:2383"]))
    }

    @Test("an https:// URL gives the gateway the certificate flags: the files given, or the self-signed pair under the data dir")
    func tlsPlan() throws {
        var configuration = EtcdConfiguration(name: "n", dataDirectory: "/var/lib/etcetera")
        configuration.listenClientURLs = [try ClientURL("https://127.0.0.1:2379"), try ClientURL("https://localhost:2479")]
        configuration.clientTransportSecurity = ClientTransportSecurity(
            certFile: "/c/s.pem", keyFile: "/c/s.key", trustedCAFile: "/c/ca.pem", clientCertAuth: true)
        let given = try ServicePlan(configuration: configuration, workingDirectory: "/")
        let gateway = try #require(given.services.last)
        #expect(gateway.arguments.contains(["--cert-file", "/c/s.pem", "--key-file", "/c/s.key", "--trusted-ca-file", "/c/ca.pem", "--client-cert-auth"]))
        #expect(gateway.arguments.contains(["--listen-client-urls", "https://127.0.0.1:2379"]))
        #expect(given.selfSignedCertificate == nil)

        configuration.clientTransportSecurity = ClientTransportSecurity(autoTLS: true)
        let auto = try ServicePlan(configuration: configuration, workingDirectory: "/")
        let selfSigned = try #require(auto.selfSignedCertificate)
        #expect(selfSigned.certificatePath == "/var/lib/etcetera/fixtures/client/cert.pem")
        #expect(selfSigned.hosts == ["127.0.0.1", "localhost"])
        let autoGateway = try #require(auto.services.last)
        #expect(autoGateway.arguments.contains([
            "--cert-file", "/var/lib/etcetera/fixtures/client/cert.pem", "--key-file", "/var/lib/etcetera/fixtures/client/key.pem",
        ]))

        configuration.listenClientURLs = [try ClientURL("http://127.0.0.1:2379")]
        let plaintext = try ServicePlan(configuration: configuration, workingDirectory: "/")
        #expect(plaintext.selfSignedCertificate == nil)
        #expect(try #require(plaintext.services.last).arguments.allSatisfy { !$0.hasPrefix("--cert") })
    }

    @Test("--auto-tls makes its certificate once: a self-signed P-521 certificate for the listen hosts, the key readable by the owner only")
    func selfSignedCertificate() throws {
        let directory = NSTemporaryDirectory() + "selfsigned-" + UUID().uuidString.prefix(8)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let certificate = SelfSignedCertificate(dataDirectory: directory, hosts: ["127.0.0.1", "::1", "etcd.local"])
        try certificate.ensureExists()
        let pem = try String(contentsOfFile: certificate.certificatePath, encoding: .utf8)
        let parsed = try Certificate(pemEncoded: pem)
        #expect(parsed.issuer == parsed.subject)
        #expect(parsed.subject.description == "O=etcd")
        #expect(parsed.signatureAlgorithm == .ecdsaWithSHA512)
        let names = try #require(try parsed.extensions.subjectAlternativeNames)
        #expect(Array(names) == [
            .ipAddress(.init(contentBytes: [127, 0, 0, 1])),
            .ipAddress(.init(contentBytes: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])),
            .dnsName("etcd.local"),
        ])
        let permissions = try FileManager.default.attributesOfItem(atPath: certificate.keyPath)[.posixPermissions] as? Int
        #expect(permissions == 0o600)
        try certificate.ensureExists()
        #expect(try String(contentsOfFile: certificate.certificatePath, encoding: .utf8) == pem, "an existing pair is kept")
    }

    @Test("--bus-curve-keys reaches every Etcetera service as an absolute path, and no auth backend of another kind")
    func busCurveKeys() throws {
        let parsed = try EtcdConfiguration.parse(arguments: ["--bus-curve-keys", "keys", "--auth-backend", "exec:/opt/my-auth --fast"])
        let plan = try ServicePlan(configuration: parsed.configuration, workingDirectory: "/srv")
        let own = plan.services.filter { ServicePlan.takesBusCurveKeys.contains($0.executable) }
        #expect(own.count == plan.services.count - 1)
        #expect(own.allSatisfy { $0.arguments.suffix(2) == ["--bus-curve-keys", "/srv/keys"] })
        let backend = try #require(plan.services.first { $0.executable == "/opt/my-auth" })
        #expect(!backend.arguments.contains("--bus-curve-keys"))
        let plain = try ServicePlan(configuration: EtcdConfiguration(), workingDirectory: "/srv")
        #expect(plain.services.allSatisfy { !$0.arguments.contains("--bus-curve-keys") && !$0.arguments.contains("--bus-insecure") })
    }

    @Test("--bus-insecure (flag or ETCD_BUS_INSECURE) reaches every Etcetera service, and no auth backend of another kind")
    func busInsecure() throws {
        for parsed in [
            try EtcdConfiguration.parse(arguments: ["--bus-insecure", "--auth-backend", "exec:/opt/my-auth"]),
            try EtcdConfiguration.parse(arguments: ["--auth-backend", "exec:/opt/my-auth"], environment: ["ETCD_BUS_INSECURE": "true"]),
        ] {
            #expect(parsed.configuration.busInsecure)
            let plan = try ServicePlan(configuration: parsed.configuration, workingDirectory: "/srv")
            let own = plan.services.filter { ServicePlan.takesBusCurveKeys.contains($0.executable) }
            #expect(own.count == plan.services.count - 1)
            #expect(own.allSatisfy { $0.arguments.last == "--bus-insecure" })
            #expect(plan.services.first { $0.executable == "/opt/my-auth" }?.arguments.contains("--bus-insecure") == false)
        }
    }

    @Test("--bus-listen puts the kv store on TCP (events on the next port), reached locally on loopback; external watch processes join the gateway's list")
    func tcpBus() throws {
        var configuration = EtcdConfiguration(name: "node1", dataDirectory: "/var/lib/etcetera")
        configuration.listenClientURLs = [try ClientURL("http://127.0.0.1:2379")]
        configuration.busListen = KVBusEndpoints(tcp: "tcp://0.0.0.0:2390")
        configuration.externalWatchEndpoints = ["tcp://10.0.0.5:2400", "tcp://10.0.0.6:2400"]
        let plan = try ServicePlan(configuration: configuration, workingDirectory: "/ignored")
        let arguments = Dictionary(uniqueKeysWithValues: plan.services.map { ($0.name, $0.arguments) })
        let kv = try #require(arguments["etcetera-kv"])
        #expect(kv.contains(["--listen", "tcp://0.0.0.0:2390"]) && kv.contains(["--events", "tcp://0.0.0.0:2391"]))
        let watch = try #require(arguments["etcetera-watch-0"])
        #expect(watch.contains(["--kv", "tcp://127.0.0.1:2390"]) && watch.contains(["--kv-events", "tcp://127.0.0.1:2391"]))
        #expect(watch.contains(["--listen", "ipc:///var/lib/etcetera/bus/watch-0.sock"]))
        let gateway = try #require(arguments["etcetera-gateway"])
        #expect(gateway.contains(["--kv", "tcp://127.0.0.1:2390"]))
        #expect(Array(gateway.prefix(6)) == [
            "--watch", "ipc:///var/lib/etcetera/bus/watch-0.sock",
            "--watch", "tcp://10.0.0.5:2400", "--watch", "tcp://10.0.0.6:2400",
        ])
    }
}
