import ServiceSupport
import Logging

/// The part of etcd's configuration Etcetera understands, with etcd 3.4's defaults.
///
/// A plain value: build it with ``parse(arguments:environment:)`` from etcd's flags and `ETCD_*` variables,
/// or directly in tests.
public struct EtcdConfiguration: Sendable, Hashable {
    /// `--name`: human-readable name of this member.
    public var name: String
    /// `--data-dir`: where every service keeps its state; etcd's default is `<name>.etcd`.
    public var dataDirectory: String
    /// `--listen-client-urls`: the first `http://` or `https://` URL is served, the others are reported
    /// as ignored.
    public var listenClientURLs: [ClientURL]
    /// `--advertise-client-urls`: the member's client URLs in Cluster answers.
    public var advertiseClientURLs: [ClientURL]
    /// `--listen-metrics-urls`: where `/metrics` and `/health` are served besides the client port (the
    /// `http://` ones; others are reported as ignored).
    public var listenMetricsURLs: [ClientURL] = []
    /// `--initial-advertise-peer-urls`: the member's peer URLs in Cluster answers. With the name they
    /// make the member id, as in etcd, so the same flags give the same id after a restart.
    public var peerURLs: [String]
    /// `--max-txn-ops`: most operations a single Txn may carry.
    public var maxTxnOps: UInt64
    /// `--max-request-bytes`: largest client request the gateway accepts.
    public var maxRequestBytes: UInt64
    /// `--max-concurrent-streams`: streams one client connection may have open (etcd 3.4's default,
    /// `math.MaxUint32`, means no limit).
    public var maxConcurrentStreams: UInt32 = .max
    /// `--grpc-keepalive-min-time`: clients that ping more often are disconnected (`too_many_pings`).
    public var grpcKeepaliveMinTime: Duration = .seconds(5)
    /// `--grpc-keepalive-interval`: how long a connection may be silent before the server pings it.
    public var grpcKeepaliveInterval: Duration = .seconds(2 * 60 * 60)
    /// `--grpc-keepalive-timeout`: how long a pinged connection may stay silent before it is closed.
    public var grpcKeepaliveTimeout: Duration = .seconds(20)
    /// `--client-idle-timeout`, Etcetera's own: how long a client connection may stay open with no
    /// call or request in progress (etcd keeps such connections for ever).
    public var clientIdleTimeout: Duration = .seconds(5 * 60)
    /// `--log-level`.
    public var logLevel: LogLevel
    /// `--logger`: the shape of the readiness lines scripts wait for (etcd 3.4's default is capnslog).
    public var logFormat: EtcdLogFormat = .capnslog
    /// `--quota-backend-bytes`: 0 means etcd's default quota (2 GiB), a negative value no quota.
    public var quotaBackendBytes: Int64
    /// `--auto-compaction-mode`.
    public var autoCompactionMode: AutoCompactionMode
    /// `--auto-compaction-retention`, kept verbatim (`"0"`, `"1h"`, `"1000"`): its meaning depends on the mode.
    public var autoCompactionRetention: String
    /// `--experimental-initial-corrupt-check`. Accepted for etcd's scripts: the kv store checks its
    /// data at every start whatever it says (docs/storage.md).
    public var initialCorruptCheck: Bool
    /// `--experimental-corrupt-check-time` (a Go duration, default `0s`: off), in milliseconds. etcd
    /// compares its hashes with its peers' at this interval; a member without peers checks its whole
    /// store against itself instead (docs/storage.md), raising CORRUPT as at start.
    public var corruptCheckIntervalMilliseconds: Int = 0
    /// `--experimental-compaction-batch-limit`: most revisions a compaction deletes in one batch.
    public var compactionBatchLimit: Int = Self.defaultCompactionBatchLimit
    /// etcd 3.4's default batch limit.
    public static let defaultCompactionBatchLimit = 1000
    /// `--log-outputs`: where the launcher's and the services' lines go.
    public var logOutputs = LogOutputs.standardError
    /// `--cors`: origins whose HTTP requests get CORS headers naming them (etcd's default `*`: all).
    public var corsOrigins = ["*"]
    /// `--host-whitelist`: host names a plaintext client port answers over HTTP (etcd's default `*`).
    public var hostWhitelist = ["*"]
    /// `--experimental-enable-lease-checkpoint`: the lease service records the time left of long
    /// leases every 5 minutes and resumes from it after a restart.
    public var leaseCheckpoints = false
    /// `--watch-processes`: Etcetera's own flag, how many watch fan-out processes to run.
    public var watchProcesses: Int
    /// `--experimental-watch-progress-notify-interval` (a Go duration, default `10m`), in milliseconds.
    public var watchProgressNotifyIntervalMilliseconds: Int
    /// `--bus-listen tcp://HOST:PORT`: Etcetera's own flag. The kv store serves its bus on TCP (events
    /// on PORT+1) instead of `ipc://`, so watch processes on other machines can join.
    public var busListen: KVBusEndpoints?
    /// `--bus-curve-keys DIR`: Etcetera's own flag, the CURVE keys (`etcetera bus-keys DIR`) every
    /// service uses on `tcp://` bus endpoints (docs/bus.md).
    public var busCurveKeys: String?
    /// The bus endpoints the services use besides their `ipc://` sockets: those `--bus-listen`,
    /// `--external-watch-endpoints` and `--auth-backend endpoint:` name.
    public var busEndpoints: [String] {
        var endpoints = externalWatchEndpoints
        if let busListen { endpoints += [busListen.requests, busListen.events] }
        if case .endpoint(let requests, let events) = authBackend { endpoints += [requests, events] }
        return endpoints
    }
    /// `--bus-insecure`: Etcetera's own flag, accepts `tcp://` bus endpoints without `--bus-curve-keys`
    /// (plaintext, unauthenticated; every service warns at start).
    public var busInsecure: Bool
    /// `--external-watch-endpoints`: Etcetera's own flag, watch processes running elsewhere
    /// (`etcetera-watch --bus … --listen tcp://…`) that the gateway uses besides its own.
    public var externalWatchEndpoints: [String]
    /// `--auth-token`: `simple`, or `jwt,sign-method=…,priv-key=…,pub-key=…,ttl=…` (passed to the auth
    /// service as given; checked at launch as etcd checks it, key files included).
    public var authToken: String
    /// `--auth-token-ttl`: seconds a simple token stays valid after its last use; 0 means 300, as in etcd.
    public var authTokenTTL: UInt64
    /// `--bcrypt-cost`: bcrypt cost of password hashes; outside 4…31 the auth service uses 10 and warns,
    /// as etcd does.
    public var bcryptCost: UInt64
    /// `--auth-backend`: Etcetera's own flag, which auth backend to run or connect to.
    public var authBackend: AuthBackendChoice
    /// `--cert-file`, `--key-file`, `--trusted-ca-file`, `--client-cert-auth` and `--auto-tls`
    /// (`client-transport-security` in a configuration file): TLS on an `https://` client URL.
    public var clientTransportSecurity: ClientTransportSecurity

    /// The defaults of etcd 3.4 (`etcd --help`), with `dataDirectory` derived from `name` when not given.
    public init(
        name: String = "default",
        dataDirectory: String? = nil,
        listenClientURLs: [ClientURL] = [Self.defaultClientURL],
        advertiseClientURLs: [ClientURL] = [Self.defaultClientURL],
        peerURLs: [String] = ["http://localhost:2380"],
        maxTxnOps: UInt64 = 128,
        maxRequestBytes: UInt64 = 1_572_864,
        logLevel: LogLevel = .info,
        quotaBackendBytes: Int64 = 0,
        autoCompactionMode: AutoCompactionMode = .periodic,
        autoCompactionRetention: String = "0",
        initialCorruptCheck: Bool = false,
        watchProcesses: Int = 1,
        watchProgressNotifyIntervalMilliseconds: Int = 600_000,
        busListen: KVBusEndpoints? = nil,
        externalWatchEndpoints: [String] = [],
        authToken: String = "simple",
        busCurveKeys: String? = nil,
        busInsecure: Bool = false,
        authTokenTTL: UInt64 = 300,
        bcryptCost: UInt64 = 10,
        authBackend: AuthBackendChoice = .builtin,
        clientTransportSecurity: ClientTransportSecurity = ClientTransportSecurity()
    ) {
        self.name = name
        self.dataDirectory = dataDirectory ?? "\(name).etcd"
        self.listenClientURLs = listenClientURLs
        self.advertiseClientURLs = advertiseClientURLs
        self.peerURLs = peerURLs
        self.maxTxnOps = maxTxnOps
        self.maxRequestBytes = maxRequestBytes
        self.logLevel = logLevel
        self.quotaBackendBytes = quotaBackendBytes
        self.autoCompactionMode = autoCompactionMode
        self.autoCompactionRetention = autoCompactionRetention
        self.initialCorruptCheck = initialCorruptCheck
        self.watchProcesses = watchProcesses
        self.watchProgressNotifyIntervalMilliseconds = watchProgressNotifyIntervalMilliseconds
        self.busListen = busListen
        self.externalWatchEndpoints = externalWatchEndpoints
        self.authToken = authToken
        self.busCurveKeys = busCurveKeys
        self.busInsecure = busInsecure
        self.authTokenTTL = authTokenTTL
        self.bcryptCost = bcryptCost
        self.authBackend = authBackend
        self.clientTransportSecurity = clientTransportSecurity
    }

    /// etcd's default for both client URL flags.
    public static let defaultClientURL: ClientURL = {
        do {
            return try ClientURL("http://localhost:2379")
        } catch {
            preconditionFailure("the default client URL is valid")
        }
    }()

    /// The URL the gateway listens on: the first `http://` or `https://` listen URL.
    ///
    /// Parsing guarantees there is one; a configuration built by hand without one yields `nil`.
    public var servedClientURL: ClientURL? {
        listenClientURLs.first { $0.scheme == "http" || $0.scheme == "https" }
    }

    /// Listen URLs that are accepted but not served yet (every one but ``servedClientURL``).
    public var ignoredListenClientURLs: [ClientURL] {
        guard let served = servedClientURL,
            let index = listenClientURLs.firstIndex(of: served)
        else { return listenClientURLs }
        var rest = listenClientURLs
        rest.remove(at: index)
        return rest
    }
}

extension EtcdConfiguration {
    /// etcd's log levels. `panic` and `fatal`, which etcd also accepts, are read as `error`.
    public enum LogLevel: String, Sendable, Hashable, CaseIterable {
        case debug
        case info
        case warn
        case error

        /// Parses etcd's spelling, case-insensitively.
        public init?(etcdName: String) {
            switch etcdName.lowercased() {
            case "debug": self = .debug
            case "info": self = .info
            case "warn", "warning": self = .warn
            case "error", "panic", "fatal", "dpanic": self = .error
            default: return nil
            }
        }

        /// The matching swift-log level.
        public var loggerLevel: Logger.Level {
            switch self {
            case .debug: .debug
            case .info: .info
            case .warn: .warning
            case .error: .error
            }
        }
    }

    /// The quota the kv store enforces, in bytes, as etcd reads `--quota-backend-bytes`; nil for none.
    public var effectiveQuotaBackendBytes: Int64? {
        if quotaBackendBytes < 0 { return nil }
        return quotaBackendBytes == 0 ? Self.defaultQuotaBackendBytes : quotaBackendBytes
    }

    /// etcd's default backend quota: 2 GiB.
    public static let defaultQuotaBackendBytes: Int64 = 2 * 1024 * 1024 * 1024
}

extension EtcdConfiguration {
    /// The keepalive the gateway runs, as etcd 3.4 hands its flags to grpc-go: a min-time that is not
    /// positive leaves grpc-go's own policy (5 minutes), and an interval or a timeout that is not
    /// positive leaves grpc-go's own server pings (every 2 hours, 20 s to answer), so "0 to disable"
    /// in etcd's help disables nothing.
    public var effectiveGRPCKeepalive: (minTime: Duration, interval: Duration, timeout: Duration) {
        let minTime = grpcKeepaliveMinTime > .zero ? grpcKeepaliveMinTime : .seconds(5 * 60)
        guard grpcKeepaliveInterval > .zero, grpcKeepaliveTimeout > .zero else {
            return (minTime, .seconds(2 * 60 * 60), .seconds(20))
        }
        return (minTime, grpcKeepaliveInterval, grpcKeepaliveTimeout)
    }
}

extension EtcdConfiguration {
    /// `--auto-compaction-mode`: whether the retention is a duration or a number of revisions.
    public enum AutoCompactionMode: String, Sendable, Hashable, CaseIterable {
        case periodic
        case revision
    }
}

extension EtcdConfiguration {
    /// etcd's warnings for TLS settings that do not apply: files or client-cert auth with a plaintext
    /// client URL, and `--auto-tls` next to certificate files.
    var clientTransportSecurityWarnings: [String] {
        let security = clientTransportSecurity
        guard let served = servedClientURL else { return [] }
        if served.scheme == "http" {
            var warnings: [String] = []
            if security.hasCertificateFiles {
                warnings.append("scheme is HTTP while key and cert files are present; ignoring key and cert files (client-url \(served))")
            }
            if security.clientCertAuth {
                warnings.append("scheme is HTTP while --client-cert-auth is enabled; ignoring client cert auth for this URL (client-url \(served))")
            }
            return warnings
        }
        return security.autoTLS && security.hasCertificateFiles ? ["ignoring client auto TLS since certs given"] : []
    }
}
