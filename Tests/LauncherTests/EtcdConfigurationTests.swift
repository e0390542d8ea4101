import Foundation
import Testing

@testable import Launcher
import ServiceSupport

@Suite("etcd-compatible configuration", .timeLimit(.minutes(10)))
struct EtcdConfigurationTests {
    private func configuration(
        _ arguments: [String],
        environment: [String: String] = [:]
    ) throws -> EtcdConfiguration {
        let request = try EtcdConfiguration.parse(arguments: arguments, environment: environment)
        #expect(request.action == .run)
        return request.configuration
    }

    @Test("defaults are etcd 3.4's")
    func defaults() throws {
        let request = try EtcdConfiguration.parse(arguments: [], environment: [:])
        #expect(request.action == .run)
        #expect(request.warnings.isEmpty)
        let configuration = request.configuration
        #expect(configuration.name == "default")
        #expect(configuration.dataDirectory == "default.etcd")
        #expect(configuration.listenClientURLs.map(\.string) == ["http://localhost:2379"])
        #expect(configuration.advertiseClientURLs.map(\.string) == ["http://localhost:2379"])
        #expect(configuration.maxTxnOps == 128)
        #expect(configuration.maxRequestBytes == 1_572_864)
        #expect(configuration.logLevel == .info)
        #expect(configuration.quotaBackendBytes == 0)
        #expect(configuration.autoCompactionMode == .periodic)
        #expect(configuration.autoCompactionRetention == "0")
        #expect(configuration.watchProcesses == 1)
        #expect(configuration.authTokenTTL == 300)
        #expect(configuration.bcryptCost == 10)
        #expect(configuration == EtcdConfiguration())
    }

    @Test("--bus-listen takes tcp://HOST:PORT with room for the event port; external watch endpoints are tcp:// URLs")
    func busFlags() throws {
        let listening = try configuration(["--bus-listen", "tcp://0.0.0.0:2390", "--external-watch-endpoints", "tcp://a:1,tcp://b:2"])
        #expect(listening.busListen?.requests == "tcp://0.0.0.0:2390")
        #expect(listening.busListen?.events == "tcp://0.0.0.0:2391")
        #expect(listening.externalWatchEndpoints == ["tcp://a:1", "tcp://b:2"])
        #expect(try configuration([]).busListen == nil)
        for bad in ["ipc:///tmp/kv.sock", "tcp://host", "tcp://host:65535", "tcp://:2390", "2390"] {
            #expect(throws: LauncherError.self, "\(bad)") { try configuration(["--bus-listen", bad]) }
        }
        #expect(throws: LauncherError.self) { try configuration(["--external-watch-endpoints", "ipc:///tmp/w.sock"]) }
    }

    @Test("the watch progress interval takes Go durations, as etcd's flag does")
    func progressInterval() throws {
        #expect(try configuration([]).watchProgressNotifyIntervalMilliseconds == 600_000)
        #expect(try configuration(["--experimental-watch-progress-notify-interval", "5s"]).watchProgressNotifyIntervalMilliseconds == 5000)
        #expect(try configuration(["--experimental-watch-progress-notify-interval=1m30s"]).watchProgressNotifyIntervalMilliseconds == 90_000)
        #expect(try configuration(["--experimental-watch-progress-notify-interval=250ms"]).watchProgressNotifyIntervalMilliseconds == 250)
        #expect(throws: LauncherError.self) { try configuration(["--experimental-watch-progress-notify-interval", "soon"]) }
        #expect(throws: LauncherError.self) { try configuration(["--watch-processes", "65"]) }
    }

    @Test("--max-concurrent-streams and the gRPC keepalive flags take etcd's values and defaults, and what grpc-go makes of zeros")
    func streamAndKeepaliveFlags() throws {
        func keepalive(_ configuration: EtcdConfiguration) -> [Duration] {
            let effective = configuration.effectiveGRPCKeepalive
            return [effective.minTime, effective.interval, effective.timeout]
        }
        let defaults = try configuration([])
        #expect(defaults.maxConcurrentStreams == UInt32.max)
        #expect(keepalive(defaults) == [.seconds(5), .seconds(7200), .seconds(20)])
        let set = try configuration([
            "--max-concurrent-streams", "100", "--grpc-keepalive-min-time", "1s", "--grpc-keepalive-interval=30s",
            "--grpc-keepalive-timeout", "500ms",
        ])
        #expect(set.maxConcurrentStreams == 100)
        #expect(keepalive(set) == [.seconds(1), .seconds(30), .milliseconds(500)])
        let zeros = try configuration(["--grpc-keepalive-min-time", "0", "--grpc-keepalive-interval", "0", "--grpc-keepalive-timeout", "3s"])
        #expect(keepalive(zeros) == [.seconds(300), .seconds(7200), .seconds(20)])
        #expect(throws: LauncherError.self) { try configuration(["--max-concurrent-streams", "4294967296"]) }
        #expect(throws: LauncherError.self) { try configuration(["--max-concurrent-streams", "-1"]) }
        #expect(throws: LauncherError.self) { try configuration(["--grpc-keepalive-min-time", "5"]) }
        let file = try EtcdConfiguration.parse(
            arguments: ["--config-file", "/etc/etcd.yml"],
            readFile: { _ in "max-concurrent-streams: 10\ngrpc-keepalive-min-time: 2000000000\ngrpc-keepalive-timeout: 7s\n" })
        #expect(file.configuration.maxConcurrentStreams == 10)
        #expect(file.configuration.grpcKeepaliveMinTime == .seconds(2))
        #expect(file.configuration.grpcKeepaliveTimeout == .seconds(7))
        #expect(defaults.clientIdleTimeout == .seconds(300))
        #expect(try configuration(["--client-idle-timeout", "90s"]).clientIdleTimeout == .seconds(90))
        #expect(throws: LauncherError.self) { try configuration(["--client-idle-timeout", "0"]) }
        #expect(throws: LauncherError.self) { try configuration(["--client-idle-timeout", "-1s"]) }
    }

    @Test("--flag value and --flag=value give the same configuration")
    func bothSyntaxes() throws {
        let separate = try configuration([
            "--name", "node1", "--data-dir", "/var/lib/etcd", "--listen-client-urls", "http://127.0.0.1:12379",
            "--advertise-client-urls", "http://10.0.0.1:2379,http://10.0.0.2:2379", "--max-txn-ops", "1000",
            "--max-request-bytes", "10485760", "--log-level", "debug", "--quota-backend-bytes", "8589934592",
            "--auto-compaction-mode", "revision", "--auto-compaction-retention", "1000", "--watch-processes", "4",
        ])
        let joined = try configuration([
            "--name=node1", "--data-dir=/var/lib/etcd", "--listen-client-urls=http://127.0.0.1:12379",
            "--advertise-client-urls=http://10.0.0.1:2379,http://10.0.0.2:2379", "--max-txn-ops=1000",
            "--max-request-bytes=10485760", "--log-level=debug", "--quota-backend-bytes=8589934592",
            "--auto-compaction-mode=revision", "--auto-compaction-retention=1000", "--watch-processes=4",
        ])
        #expect(separate == joined)
        #expect(separate.name == "node1")
        #expect(separate.dataDirectory == "/var/lib/etcd")
        #expect(separate.servedClientURL?.hostPort == "127.0.0.1:12379")
        #expect(separate.advertiseClientURLs.map(\.string) == ["http://10.0.0.1:2379", "http://10.0.0.2:2379"])
        #expect(separate.maxTxnOps == 1000)
        #expect(separate.maxRequestBytes == 10_485_760)
        #expect(separate.logLevel == .debug)
        #expect(separate.quotaBackendBytes == 8_589_934_592)
        #expect(separate.autoCompactionMode == .revision)
        #expect(separate.autoCompactionRetention == "1000")
        #expect(separate.watchProcesses == 4)
    }

    @Test("single-dash flags are accepted, as Go's flag package does")
    func singleDash() throws {
        let configuration = try configuration(["-name", "n", "-max-txn-ops=7"])
        #expect(configuration.name == "n")
        #expect(configuration.maxTxnOps == 7)
    }

    @Test("the data directory defaults to <name>.etcd, also when the name comes from ETCD_NAME")
    func dataDirectoryFollowsName() throws {
        #expect(try configuration(["--name", "infra1"]).dataDirectory == "infra1.etcd")
        #expect(try configuration([], environment: ["ETCD_NAME": "infra2"]).dataDirectory == "infra2.etcd")
        #expect(try configuration(["--name", "a", "--data-dir", "d"]).dataDirectory == "d")
    }

    @Test("ETCD_* variables set flags, and flags win over them")
    func environment() throws {
        let environment = [
            "ETCD_NAME": "from-env",
            "ETCD_DATA_DIR": "/env/data",
            "ETCD_MAX_TXN_OPS": "64",
            "ETCD_LOG_LEVEL": "warn",
            "ETCD_LISTEN_CLIENT_URLS": "http://0.0.0.0:3379",
            "ETCD_WATCH_PROCESSES": "3",
            "ETCD_AUTH_TOKEN_TTL": "30",
            "ETCD_BCRYPT_COST": "4",
            "PATH": "/usr/bin",
        ]
        let fromEnvironment = try configuration([], environment: environment)
        #expect(fromEnvironment.name == "from-env")
        #expect(fromEnvironment.dataDirectory == "/env/data")
        #expect(fromEnvironment.maxTxnOps == 64)
        #expect(fromEnvironment.logLevel == .warn)
        #expect(fromEnvironment.servedClientURL?.string == "http://0.0.0.0:3379")
        #expect(fromEnvironment.watchProcesses == 3)
        #expect(fromEnvironment.authTokenTTL == 30)
        #expect(fromEnvironment.bcryptCost == 4)

        let request = try EtcdConfiguration.parse(
            arguments: ["--name", "from-flag", "--max-txn-ops=32"],
            environment: environment
        )
        #expect(request.configuration.name == "from-flag")
        #expect(request.configuration.maxTxnOps == 32)
        #expect(request.configuration.dataDirectory == "/env/data")
        #expect(request.warnings.contains("recognized environment variable ETCD_NAME, but unused: shadowed by corresponding flag"))
    }

    @Test("flag names map to etcd's variable names")
    func variableNames() {
        #expect(EtcdConfiguration.environmentVariable(forFlag: "data-dir") == "ETCD_DATA_DIR")
        #expect(EtcdConfiguration.environmentVariable(forFlag: "auto-compaction-retention") == "ETCD_AUTO_COMPACTION_RETENTION")
    }

    @Test("unsupported etcd flags are warned about once each and skipped with their values")
    func unsupportedFlags() throws {
        let request = try EtcdConfiguration.parse(arguments: [
            "--name", "infra1",
            "--initial-advertise-peer-urls", "http://10.0.1.10:2380",
            "--listen-peer-urls=http://10.0.1.10:2380",
            "--initial-cluster-token", "etcd-cluster-1",
            "--initial-cluster", "infra1=http://10.0.1.10:2380",
            "--initial-cluster-state", "new",
            "--enable-v2",
            "--heartbeat-interval", "100",
            "--experimental-initial-corrupt-check=true",
            "--logger", "zap",
            "--log-outputs", "stderr",
            "--enable-v2",
            "--max-txn-ops", "5",
        ])
        #expect(request.action == .run)
        #expect(request.configuration.name == "infra1")
        #expect(request.configuration.maxTxnOps == 5)
        #expect(request.configuration.peerURLs == ["http://10.0.1.10:2380"])
        #expect(request.configuration.initialCorruptCheck)
        #expect(request.configuration.logFormat == .zap)
        #expect(request.warnings == [
            "ignoring unsupported flag --listen-peer-urls",
            "ignoring unsupported flag --initial-cluster-token",
            "ignoring unsupported flag --initial-cluster",
            "ignoring unsupported flag --initial-cluster-state",
            "ignoring unsupported flag --enable-v2",
            "ignoring unsupported flag --heartbeat-interval",
        ])
        #expect(request.configuration.logOutputs.targets == [.standardError])
    }

    @Test("an unsupported boolean flag before a single-dash flag does not swallow it")
    func unsupportedBooleanBeforeFlag() throws {
        let request = try EtcdConfiguration.parse(arguments: ["--enable-v2", "-name", "x"])
        #expect(request.configuration.name == "x")
        #expect(request.warnings == ["ignoring unsupported flag --enable-v2"])
    }

    @Test("unsupported ETCD_* variables are warned about, not fatal")
    func unsupportedVariables() throws {
        let request = try EtcdConfiguration.parse(
            arguments: [],
            environment: ["ETCD_INITIAL_CLUSTER": "a=http://x:2380", "ETCDCTL_API": "3", "ETCD_NAME": ""]
        )
        #expect(request.action == .run)
        #expect(request.configuration.name == "default")
        #expect(request.warnings == ["ignoring unsupported environment variable ETCD_INITIAL_CLUSTER"])
    }

    @Test(
        "bad numbers and enumerations are rejected",
        arguments: [
            ["--max-txn-ops", "abc"],
            ["--max-txn-ops=-1"],
            ["--max-request-bytes", "1.5"],
            ["--quota-backend-bytes", "2GB"],
            ["--watch-processes", "0"],
            ["--log-level", "verbose"],
            ["--auto-compaction-mode", "hourly"],
            ["--auto-compaction-retention", "abc"],
            ["--auto-compaction-retention", "-1"],
            ["--experimental-initial-corrupt-check=maybe"],
            ["--auth-token-ttl", "-1"],
            ["--auth-token-ttl", "5m"],
            ["--bcrypt-cost", "ten"],
            ["--bcrypt-cost=-4"],
        ]
    )
    func badValues(arguments: [String]) {
        #expect {
            try EtcdConfiguration.parse(arguments: arguments)
        } throws: { error in
            (error as? LauncherError)?.code == .invalidFlagValue
        }
    }

    @Test("the quota is etcd's: 0 is the 2 GiB default, a negative value turns it off")
    func quota() throws {
        #expect(try EtcdConfiguration.parse(arguments: []).configuration.effectiveQuotaBackendBytes == 2_147_483_648)
        #expect(try EtcdConfiguration.parse(arguments: ["--quota-backend-bytes", "53248"]).configuration.effectiveQuotaBackendBytes == 53248)
        #expect(try EtcdConfiguration.parse(arguments: ["--quota-backend-bytes=-1"]).configuration.effectiveQuotaBackendBytes == nil)
    }

    @Test("--config-file takes every setting from the YAML file and ignores other flags and variables, as etcd")
    func configFile() throws {
        let yaml = """
            name: cfnode
            data-dir: /tmp/cf/data
            listen-client-urls: http://127.0.0.1:25479
            advertise-client-urls: http://127.0.0.1:25479
            initial-advertise-peer-urls: http://127.0.0.1:25480
            initial-cluster: cfnode=http://127.0.0.1:25480
            quota-backend-bytes: 53248
            auto-compaction-retention: "1"
            experimental-initial-corrupt-check: true
            max-txn-ops: 7
            log-level: error
            discovery-srv:
            """
        var read: [String] = []
        let request = try EtcdConfiguration.parse(
            arguments: ["--name", "other", "--config-file", "/etc/etcd.yml", "--max-txn-ops", "9"],
            environment: ["ETCD_DATA_DIR": "/elsewhere"],
            readFile: { path in
                read.append(path)
                return yaml
            })
        #expect(read == ["/etc/etcd.yml"])
        let configuration = request.configuration
        #expect(configuration.name == "cfnode")
        #expect(configuration.dataDirectory == "/tmp/cf/data")
        #expect(configuration.servedClientURL?.string == "http://127.0.0.1:25479")
        #expect(configuration.peerURLs == ["http://127.0.0.1:25480"])
        #expect(configuration.quotaBackendBytes == 53248)
        #expect(configuration.autoCompactionRetention == "1")
        #expect(configuration.initialCorruptCheck)
        #expect(configuration.maxTxnOps == 7)
        #expect(configuration.logLevel == .error)
        #expect(request.warnings == [
            "loading configuration from \"/etc/etcd.yml\"; other flags and ETCD_* variables are ignored",
            "ignoring unsupported configuration key initial-cluster in /etc/etcd.yml",
            "ignoring unsupported configuration key discovery-srv in /etc/etcd.yml",
        ])
        let fromEnvironment = try EtcdConfiguration.parse(
            arguments: [], environment: ["ETCD_CONFIG_FILE": "/etc/e.yml"], readFile: { _ in "name: fromfile\n" })
        #expect(fromEnvironment.configuration.name == "fromfile")
    }

    @Test("an unreadable, malformed or mistyped configuration file stops the launch with a clear error")
    func badConfigFiles() throws {
        struct Missing: Error {}
        let missing = try #require(throws: LauncherError.self) {
            try EtcdConfiguration.parse(arguments: ["--config-file", "/none.yml"], readFile: { _ in throw Missing() })
        }
        #expect(missing.code == .configFileUnusable && missing.message.contains("/none.yml"))
        for yaml in ["name: [x", "- a\n- b\n", "listen-client-urls:\n  - http://a:1\n"] {
            let error = try #require(throws: LauncherError.self) {
                try EtcdConfiguration.parse(arguments: ["--config-file", "f.yml"], readFile: { _ in yaml })
            }
            #expect(error.code == .configFileUnusable, "\(yaml)")
        }
        let mistyped = try #require(throws: LauncherError.self) {
            try EtcdConfiguration.parse(arguments: ["--config-file", "f.yml"], readFile: { _ in "max-txn-ops: abc\n" })
        }
        #expect(mistyped.code == .invalidFlagValue && mistyped.message.contains("key max-txn-ops of f.yml"))
    }

    @Test("--auth-token-ttl and --bcrypt-cost take any unsigned integer, as etcd's flags; the auth service applies etcd's fallbacks")
    func authFlags() throws {
        let set = try configuration(["--auth-token-ttl", "5", "--bcrypt-cost=4"])
        #expect(set.authTokenTTL == 5 && set.bcryptCost == 4)
        let unusual = try configuration(["--auth-token-ttl=0", "--bcrypt-cost", "99"])
        #expect(unusual.authTokenTTL == 0 && unusual.bcryptCost == 99)
        let plan = try ServicePlan(configuration: unusual, workingDirectory: "/")
        let auth = try #require(plan.services.first { $0.executable == "etcetera-auth" })
        #expect(auth.arguments.contains(["--auth-token-ttl", "0"]) && auth.arguments.contains(["--bcrypt-cost", "99"]))
    }

    @Test("--auth-token is checked at launch as etcd checks it and reaches the auth service as given")
    func authToken() throws {
        #expect(try configuration([]).authToken == "simple")
        for (value, message) in [
            ("bogus", "auth: invalid auth options (unknown token type: bogus)"),
            ("jwt,sign-method=RS256", "auth: missing key data"),
            ("jwt,sign-method=ES256,ttl=soon", "auth: invalid auth options (problem loading JWT options: time: invalid duration \"soon\")"),
        ] {
            let error = try #require(throws: LauncherError.self) { try EtcdConfiguration.parse(arguments: ["--auth-token", value]) }
            #expect(error.code == .invalidAuthToken && error.message == message, "\(value)")
        }
        let request = try EtcdConfiguration.parse(arguments: ["--auth-token", "simple,ttl=1s"], environment: [:])
        #expect(request.configuration.authToken == "simple,ttl=1s" && request.warnings.isEmpty)
        let plan = try ServicePlan(configuration: request.configuration, workingDirectory: "/")
        let auth = try #require(plan.services.first { $0.executable == "etcetera-auth" })
        #expect(auth.arguments.contains(["--auth-token", "simple,ttl=1s"]))
    }

    @Test("a bad number from the environment names the variable")
    func badEnvironmentValue() throws {
        let error = try #require(throws: LauncherError.self) {
            try EtcdConfiguration.parse(arguments: [], environment: ["ETCD_MAX_TXN_OPS": "many"])
        }
        #expect(error.code == .invalidFlagValue)
        #expect(error.message.contains("ETCD_MAX_TXN_OPS"))
        #expect(error.message.contains("many"))
    }

    @Test("a flag without its value is rejected")
    func missingValue() throws {
        let error = try #require(throws: LauncherError.self) {
            try EtcdConfiguration.parse(arguments: ["--data-dir"])
        }
        #expect(error.code == .missingFlagValue)
    }

    @Test("positional arguments are rejected as etcd does")
    func positional() throws {
        let error = try #require(throws: LauncherError.self) {
            try EtcdConfiguration.parse(arguments: ["--name", "a", "snapshot"])
        }
        #expect(error.code == .invalidArgument)
        #expect(error.message == "'snapshot' is not a valid flag")
    }

    @Test("--version and --help select their actions")
    func versionAndHelp() throws {
        #expect(try EtcdConfiguration.parse(arguments: ["--version"]).action == .printVersion)
        #expect(try EtcdConfiguration.parse(arguments: ["--version=true"]).action == .printVersion)
        #expect(try EtcdConfiguration.parse(arguments: ["--version=false"]).action == .run)
        #expect(try EtcdConfiguration.parse(arguments: ["--help"]).action == .printHelp)
        #expect(try EtcdConfiguration.parse(arguments: ["-h", "--max-txn-ops=x"]).action == .printHelp)
        #expect(EtceteraVersion.lines == [
            "etcetera Version: 0.1.0", "etcd API Version: 3.4", "etcd Server Version: 3.4.23", "OS/Arch: \(EtceteraVersion.platform)",
        ])
        #expect(EtceteraVersion.platform.wholeMatch(of: /(linux|darwin)\/(amd64|arm64)/) != nil)
        #expect(EtcdConfiguration.usage.contains("--listen-client-urls"))
    }

    @Test("--logger picks the shape of the readiness lines: capnslog by default, as etcd 3.4, or zap")
    func logger() throws {
        #expect(try EtcdConfiguration.parse(arguments: []).configuration.logFormat == .capnslog)
        #expect(try EtcdConfiguration.parse(arguments: ["--logger", "zap"]).configuration.logFormat == .zap)
        #expect(try EtcdConfiguration.parse(arguments: [], environment: ["ETCD_LOGGER": "zap"]).configuration.logFormat == .zap)
        let error = try #require(throws: LauncherError.self) { try EtcdConfiguration.parse(arguments: ["--logger", "json"]) }
        #expect(error.code == .invalidFlagValue)
    }

    @Test("--experimental-corrupt-check-time, --experimental-compaction-batch-limit, --experimental-enable-lease-checkpoint and --cipher-suites are read as etcd reads them")
    func corruptCheckAndCompactionBatch() throws {
        let defaults = try EtcdConfiguration.parse(arguments: []).configuration
        #expect(defaults.corruptCheckIntervalMilliseconds == 0)
        #expect(defaults.compactionBatchLimit == 1000)
        let set = try EtcdConfiguration.parse(arguments: [
            "--experimental-corrupt-check-time", "2m30s", "--experimental-compaction-batch-limit", "250",
        ]).configuration
        #expect(set.corruptCheckIntervalMilliseconds == 150_000)
        #expect(set.compactionBatchLimit == 250)
        #expect(try EtcdConfiguration.parse(arguments: ["--experimental-compaction-batch-limit", "0"]).configuration.compactionBatchLimit == 1000)
        #expect(try EtcdConfiguration.parse(arguments: [], environment: ["ETCD_EXPERIMENTAL_CORRUPT_CHECK_TIME": "1h"]).configuration
            .corruptCheckIntervalMilliseconds == 3_600_000)
        #expect(!defaults.leaseCheckpoints)
        let checkpointing = try EtcdConfiguration.parse(arguments: ["--experimental-enable-lease-checkpoint"]).configuration
        #expect(checkpointing.leaseCheckpoints)
        let lease = try #require(try ServicePlan(configuration: checkpointing, workingDirectory: "/tmp").services.first { $0.executable == "etcetera-lease" })
        #expect(lease.arguments.contains("--lease-checkpoints"))
        let tls = try EtcdConfiguration.parse(arguments: [
            "--listen-client-urls", "https://127.0.0.1:2379", "--cert-file", "s.pem", "--key-file", "s.key",
            "--cipher-suites", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
        ]).configuration
        let gateway = try #require(try ServicePlan(configuration: tls, workingDirectory: "/tmp").services.last)
        #expect(gateway.arguments.joined(separator: " ").contains(
            "--cipher-suites TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305"))
        let unknownSuite = try #require(throws: LauncherError.self) { try EtcdConfiguration.parse(arguments: ["--cipher-suites", "TLS_NOPE"]) }
        #expect(unknownSuite.message.hasSuffix("unexpected TLS cipher suite \"TLS_NOPE\""), "\(unknownSuite.message)")
        for arguments in [["--experimental-compaction-batch-limit", "-1"], ["--experimental-corrupt-check-time", "soon"]] {
            let error = try #require(throws: LauncherError.self) { try EtcdConfiguration.parse(arguments: arguments) }
            #expect(error.code == .invalidFlagValue)
        }
    }

    @Test("--log-outputs takes what etcd 3.4 takes for each --logger, with etcd's messages for the rest")
    func logOutputs() throws {
        func outputs(_ arguments: [String]) throws -> [LogOutputs.Target] {
            try EtcdConfiguration.parse(arguments: arguments).configuration.logOutputs.targets
        }
        #expect(try outputs([]) == [.standardError])
        #expect(try outputs(["--log-outputs", "stdout"]) == [.standardOutput])
        #expect(try outputs(["--log-outputs", "default"]) == [.standardError])
        #expect(try outputs(["--logger", "zap", "--log-outputs", "stderr,/var/log/etcd.log,systemd/journal"])
            == [.standardError, .file("/var/log/etcd.log")])
        let refusals: [([String], String)] = [
            (["--log-outputs", "stderr,stdout"], "--logger=capnslog supports only 1 value in '--log-outputs', got [\"stderr\" \"stdout\"]"),
            (["--log-outputs", "/var/log/etcd.log"], "unknown log-output \"/var/log/etcd.log\" (only supports \"default\", \"stderr\", \"stdout\")"),
            (["--logger", "zap", "--log-outputs", "default,/tmp/x"], "multi logoutput for \"default\" is not supported yet"),
        ]
        for (arguments, message) in refusals {
            let error = try #require(throws: LauncherError.self) { try EtcdConfiguration.parse(arguments: arguments) }
            #expect(error.code == .invalidFlagValue)
            #expect(error.message.hasSuffix(message), "\(error.message)")
        }
    }

    @Test("start-up lines have etcd 3.4's shape and order for each --logger: published, capabilities, ready, serving")
    func readinessLines() throws {
        let date = Date(timeIntervalSince1970: 1_790_000_000.5)
        let member = MemberAnnouncement(
            name: "default", clientURLs: ["http://127.0.0.1:2379", "http://10.0.0.1:2379"], memberID: 0x8203_9f3e_ee02_bfb3,
            clusterID: 0x20f6_5752_4b5b_6bb1)
        let capnslog = EtcdLogFormat.capnslog.readinessLines(member: member, address: "127.0.0.1:2379", at: date)
        #expect(capnslog.count == 4)
        #expect(capnslog[0].wholeMatch(of: /\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.500000 I \| etcdserver: published .*/) != nil, "\(capnslog)")
        #expect(capnslog[0].hasSuffix(
            " I | etcdserver: published {Name:default ClientURLs:[http://127.0.0.1:2379 http://10.0.0.1:2379]} to cluster 20f657524b5b6bb1"))
        #expect(capnslog[1].hasSuffix(" I | etcdserver/api: enabled capabilities for version 3.4"))
        #expect(capnslog[2].hasSuffix(" I | embed: ready to serve client requests"))
        #expect(capnslog[3].hasSuffix(" N | embed: serving insecure client requests on 127.0.0.1:2379, this is strongly discouraged!"))
        let zap = try EtcdLogFormat.zap.readinessLines(member: member, address: "127.0.0.1:2379", at: date).map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String])
        }
        #expect(zap.count == 3)
        #expect(zap.allSatisfy { $0["level"] == "info" && $0["ts"] == "2026-09-21T14:13:20.500Z" })
        #expect(zap[0]["msg"] == "published local member to cluster through raft")
        #expect(zap[0]["local-member-id"] == "82039f3eee02bfb3")
        #expect(zap[0]["local-member-attributes"] == "{Name:default ClientURLs:[http://127.0.0.1:2379 http://10.0.0.1:2379]}")
        #expect(zap[0]["request-path"] == "/0/members/82039f3eee02bfb3/attributes")
        #expect(zap[0]["cluster-id"] == "20f657524b5b6bb1")
        #expect(zap[1]["msg"] == "enabled capabilities for version" && zap[1]["cluster-version"] == "3.4")
        #expect(zap[2]["msg"] == "serving client traffic insecurely; this is strongly discouraged!")
        #expect(zap[2]["address"] == "127.0.0.1:2379")
        let secure = EtcdLogFormat.capnslog.readinessLines(member: member, address: "127.0.0.1:2379", secure: true, at: date)
        #expect(secure[3].hasSuffix(" I | embed: serving client requests on 127.0.0.1:2379"))
        let secureZap = EtcdLogFormat.zap.readinessLines(member: member, address: "127.0.0.1:2379", secure: true, at: date)
        #expect(secureZap[2].contains("\"msg\":\"serving client traffic securely\""))
        let quoted = MemberAnnouncement(name: "a \"b\"", clientURLs: [], memberID: 1, clusterID: 2)
        let odd = EtcdLogFormat.zap.readinessLines(member: quoted, address: "127.0.0.1:2379", at: date)
        #expect((try? JSONSerialization.jsonObject(with: Data(odd[0].utf8))) != nil, "a name with quotes keeps the line JSON")
    }

    @Test("the first http:// or https:// listen URL is served and the others are warned about")
    func listenURLs() throws {
        let request = try EtcdConfiguration.parse(arguments: [
            "--listen-client-urls", "unix://etcd.sock,http://127.0.0.1:2379,https://[::1]:2379",
        ])
        #expect(request.configuration.servedClientURL?.string == "http://127.0.0.1:2379")
        #expect(request.configuration.ignoredListenClientURLs.map(\.string) == [
            "unix://etcd.sock", "https://[::1]:2379",
        ])
        #expect(request.warnings.count == 2)
        #expect(request.warnings.allSatisfy { $0.hasPrefix("ignoring listen client URL") })
    }

    @Test(
        "malformed or unservable listen URLs are rejected",
        arguments: ["127.0.0.1:2379", "http://127.0.0.1", "http://127.0.0.1:2379/v3", "ftp://h:1", "unixs://etcd.sock"]
    )
    func badURLs(url: String) throws {
        let error = try #require(throws: LauncherError.self) {
            try EtcdConfiguration.parse(arguments: ["--listen-client-urls", url])
        }
        #expect(error.code == .invalidURL)
    }

    @Test("the client TLS flags come from flags, ETCD_* variables or the configuration file's client-transport-security")
    func clientTransportSecurity() throws {
        let expected = ClientTransportSecurity(
            certFile: "/c/server.pem", keyFile: "/c/server.key", trustedCAFile: "/c/ca.pem", clientCertAuth: true, autoTLS: false)
        let https = ["--listen-client-urls", "https://127.0.0.1:2379"]
        let flags = try configuration(https + [
            "--cert-file", "/c/server.pem", "--key-file=/c/server.key", "--trusted-ca-file", "/c/ca.pem", "--client-cert-auth",
        ])
        #expect(flags.clientTransportSecurity == expected)
        let variables = try configuration(https, environment: [
            "ETCD_CERT_FILE": "/c/server.pem", "ETCD_KEY_FILE": "/c/server.key", "ETCD_TRUSTED_CA_FILE": "/c/ca.pem",
            "ETCD_CLIENT_CERT_AUTH": "true", "ETCD_AUTO_TLS": "false",
        ])
        #expect(variables.clientTransportSecurity == expected)
        let yaml = """
            listen-client-urls: https://127.0.0.1:2379
            cert-file: /flat/ignored.pem
            client-transport-security:
              cert-file: /c/server.pem
              key-file: /c/server.key
              trusted-ca-file: /c/ca.pem
              client-cert-auth: true
              auto-tls: false
              crl-file: /c/crl.pem
            """
        let file = try EtcdConfiguration.parse(arguments: ["--config-file", "e.yml"], readFile: { _ in yaml })
        #expect(file.configuration.clientTransportSecurity == expected)
        #expect(file.warnings.contains("ignoring unsupported configuration key cert-file in e.yml"))
        #expect(file.warnings.contains("ignoring unsupported configuration key client-transport-security.crl-file in e.yml"))
        let mistyped = try #require(throws: LauncherError.self) {
            try EtcdConfiguration.parse(arguments: https + ["--auto-tls=maybe"])
        }
        #expect(mistyped.code == .invalidFlagValue)
    }

    @Test("an https:// client URL needs a certificate and key or --auto-tls; TLS settings that do not apply are warned about, as etcd")
    func httpsNeedsCertificate() throws {
        let missing = try #require(throws: LauncherError.self) {
            try EtcdConfiguration.parse(arguments: ["--listen-client-urls", "https://127.0.0.1:2379", "--cert-file", "/c/server.pem"])
        }
        #expect(missing.message == "TLS key/cert (--cert-file, --key-file) must be provided for client url https://127.0.0.1:2379 with HTTPS scheme")
        let auto = try EtcdConfiguration.parse(arguments: ["--listen-client-urls", "https://127.0.0.1:2379", "--auto-tls"])
        #expect(auto.configuration.clientTransportSecurity.usesAutoTLS && auto.warnings.isEmpty)
        let both = try EtcdConfiguration.parse(arguments: [
            "--listen-client-urls", "https://127.0.0.1:2379", "--auto-tls", "--cert-file", "/c/s.pem", "--key-file", "/c/s.key",
        ])
        #expect(!both.configuration.clientTransportSecurity.usesAutoTLS)
        #expect(both.warnings == ["ignoring client auto TLS since certs given"])
        let plaintext = try EtcdConfiguration.parse(arguments: ["--cert-file", "/c/s.pem", "--key-file", "/c/s.key", "--client-cert-auth"])
        #expect(plaintext.warnings.count == 2)
        #expect(plaintext.warnings.allSatisfy { $0.hasPrefix("scheme is HTTP while") })
    }

    @Test("client URLs split into host and port, IPv6 included")
    func clientURL() throws {
        let v4 = try ClientURL("http://127.0.0.1:2379")
        #expect(v4.host == "127.0.0.1")
        #expect(v4.port == 2379)
        let v6 = try ClientURL("http://[::1]:12379/")
        #expect(v6.host == "::1")
        #expect(v6.port == 12379)
        #expect(v6.hostPort == "[::1]:12379")
    }

    @Test("--listen-metrics-urls comes from the flag, ETCD_LISTEN_METRICS_URLS or the config file, checked as etcd checks URLs")
    func listenMetricsURLs() throws {
        #expect(try configuration([]).listenMetricsURLs.isEmpty)
        let fromFlag = try configuration(["--listen-metrics-urls", "http://127.0.0.1:2381,https://127.0.0.1:2382"])
        #expect(fromFlag.listenMetricsURLs.map(\.string) == ["http://127.0.0.1:2381", "https://127.0.0.1:2382"])
        let fromEnvironment = try configuration([], environment: ["ETCD_LISTEN_METRICS_URLS": "http://localhost:2381"])
        #expect(fromEnvironment.listenMetricsURLs.map(\.hostPort) == ["localhost:2381"])
        let fromFile = try EtcdConfiguration.parse(
            arguments: ["--config-file", "/etc/etcd.yml"], readFile: { _ in "listen-metrics-urls: http://127.0.0.1:2391\n" })
        #expect(fromFile.configuration.listenMetricsURLs.map(\.string) == ["http://127.0.0.1:2391"])
        let warned = try EtcdConfiguration.parse(arguments: ["--listen-metrics-urls", "https://127.0.0.1:2382"])
        #expect(warned.warnings.contains { $0.contains("ignoring listen metrics URL https://127.0.0.1:2382") })
        #expect(throws: LauncherError.self) { try EtcdConfiguration.parse(arguments: ["--listen-metrics-urls", "ftp://x:1"]) }
    }

    @Test("log levels map to swift-log, with etcd's panic and fatal read as error")
    func logLevels() {
        #expect(EtcdConfiguration.LogLevel(etcdName: "WARN") == .warn)
        #expect(EtcdConfiguration.LogLevel(etcdName: "fatal") == .error)
        #expect(EtcdConfiguration.LogLevel.warn.loggerLevel == .warning)
    }
}
