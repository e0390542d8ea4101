import Cluster

/// The children `etcetera` runs for one configuration, in start order, and the places they share.
///
/// Services talk over `ipc://` sockets laid out by ``BusLayout``; with `--bus-listen` the kv store serves
/// on TCP instead, so that watch processes elsewhere can join. `services` is started front to back
/// and stopped back to front, so a service comes after everything it connects to: the kv store first, the
/// gateway last, with the auth backend (`--auth-backend`; none for `endpoint:`), the lease service, the
/// maintenance service and the watch fan-out processes between them. Later services go between the kv store and the gateway too, with their
/// sockets listed in ``socketNames``.
public struct ServicePlan: Sendable, Hashable {
    /// The kv store's request/reply socket.
    public static let kvSocket = "kv.sock"
    /// The kv store's event stream (one message per committed revision).
    public static let kvEventsSocket = "kv-events.sock"
    /// The lease service's request/reply socket.
    public static let leaseSocket = "lease.sock"
    /// The maintenance service's request/reply socket.
    public static let maintenanceSocket = "maintenance.sock"
    /// The auth service's request/reply socket.
    public static let authSocket = "auth.sock"
    /// The auth service's event stream (its revision, whenever it changes).
    public static let authEventsSocket = "auth-events.sock"
    /// Every fixed socket of the plan; the longest decides whether ``BusLayout`` falls back to `/tmp`.
    /// Watch sockets (`watch-0.sock` … `watch-63.sock`) are never longer than these.
    public static let socketNames = [kvSocket, kvEventsSocket, leaseSocket, maintenanceSocket, authSocket, authEventsSocket]
    /// The executables that take `--bus-curve-keys` and `--bus-insecure` (an auth backend of another kind may not).
    static let takesBusCurveKeys: Set<String> = [
        "etcetera-kv", "etcetera-auth", "etcetera-lease", "etcetera-maintenance", "etcetera-watch", "etcetera-gateway",
    ]
    /// Most watch fan-out processes one box runs.
    public static let maximumWatchProcesses = 64

    /// Where `etcetera-kv` keeps its store under a data directory.
    public static func kvDataDirectory(in dataDirectory: String) -> String {
        Path.join(Path.join(dataDirectory, "member"), "kv")
    }

    /// Where `etcetera-lease` keeps its leases under a data directory.
    public static func leaseDataDirectory(in dataDirectory: String) -> String {
        Path.join(Path.join(dataDirectory, "member"), "lease")
    }

    /// Where `etcetera-auth` keeps users, roles and permissions under a data directory.
    public static func authDataDirectory(in dataDirectory: String) -> String {
        Path.join(Path.join(dataDirectory, "member"), "auth")
    }

    /// The request/reply socket of watch fan-out process `index`.
    public static func watchSocket(_ index: Int) -> String {
        "watch-\(index).sock"
    }

    /// The absolute data directory.
    public let dataDirectory: String
    /// Where the sockets live.
    public let bus: BusLayout
    /// The directories to create (mode 0700) before starting anything, parents first.
    public let directories: [String]
    /// The URL the gateway serves, and that readiness is checked on.
    public let clientURL: ClientURL
    /// The member as the start-up lines name it, with the ids every service derives from its flags.
    public let member: MemberAnnouncement
    /// The certificate to make before the gateway starts, with `--auto-tls` on an `https://` URL.
    public let selfSignedCertificate: SelfSignedCertificate?
    /// The children in start order.
    public let services: [ServiceSpec]

    /// Plans the one-box deployment.
    /// - Parameters:
    ///   - configuration: the parsed configuration.
    ///   - workingDirectory: resolves a relative `--data-dir` (etcd's default `default.etcd` is relative).
    ///   - fallbackSocketParent: the parent of the short socket directory used when paths are too long.
    /// - Throws: `LauncherError` with `.invalidURL` if no listen URL is `http://` or `https://`.
    public init(
        configuration: EtcdConfiguration,
        workingDirectory: String,
        fallbackSocketParent: String = "/tmp"
    ) throws {
        guard let clientURL = configuration.servedClientURL else {
            throw LauncherError(code: .invalidURL, message: "no http:// or https:// URL in --listen-client-urls")
        }
        let dataDirectory = Path.absolute(configuration.dataDirectory, workingDirectory: workingDirectory)
        let bus = BusLayout(
            dataDirectory: dataDirectory,
            socketNames: Self.socketNames,
            fallbackParent: fallbackSocketParent
        )
        var directories = [
            dataDirectory,
            Path.join(dataDirectory, "bus"),
            Path.join(dataDirectory, "member"),
        ]
        if bus.usesFallback {
            directories.append(bus.directory)
        }
        self.dataDirectory = dataDirectory
        self.bus = bus
        self.directories = directories
        self.clientURL = clientURL
        let identity = ClusterIdentity(name: configuration.name, peerURLs: configuration.peerURLs)
        member = MemberAnnouncement(
            name: configuration.name, clientURLs: configuration.advertiseClientURLs.map(\.string),
            memberID: identity.memberID, clusterID: identity.clusterID)
        let security = configuration.clientTransportSecurity
        selfSignedCertificate = clientURL.scheme == "https" && security.usesAutoTLS
            ? SelfSignedCertificate(dataDirectory: dataDirectory, hosts: configuration.listenClientURLs.filter { $0.port != nil }.map(\.host))
            : nil
        let watchProcesses = min(max(configuration.watchProcesses, 1), Self.maximumWatchProcesses)
        let kv = Self.kvEndpoints(configuration, bus: bus)
        let watchEndpoints = (0..<watchProcesses).map { bus.endpoint(of: Self.watchSocket($0)) } + configuration.externalWatchEndpoints
        let auth = Self.authBackend(configuration, dataDirectory: dataDirectory, workingDirectory: workingDirectory, bus: bus)
        let busSecurity = (configuration.busCurveKeys.map { ["--bus-curve-keys", Path.absolute($0, workingDirectory: workingDirectory)] } ?? [])
            + (configuration.busInsecure ? ["--bus-insecure"] : [])
        let services =
            [Self.kvService(configuration, dataDirectory: dataDirectory, bind: kv.bind)]
            + (auth.service.map { [$0] } ?? [])
            + [Self.leaseService(configuration, dataDirectory: dataDirectory, bus: bus, kv: kv.connect),
               Self.maintenanceService(configuration, bus: bus, kv: kv.connect)]
            + (0..<watchProcesses).map { Self.watchService(configuration, index: $0, bus: bus, kv: kv.connect) }
            + [Self.gatewayService(
                configuration, dataDirectory: dataDirectory, kv: kv.connect, bus: bus, auth: auth.endpoints,
                clientURL: clientURL, watchEndpoints: watchEndpoints,
                tls: Self.gatewayTLSArguments(security, clientURL: clientURL, selfSigned: selfSignedCertificate))]
        self.services = services.map { service in
            var service = service
            if Self.takesBusCurveKeys.contains(service.executable) { service.arguments += busSecurity }
            return service
        }
    }

    /// The gateway's TLS flags: the given files, or the self-signed pair; none for an `http://` URL.
    private static func gatewayTLSArguments(
        _ security: ClientTransportSecurity, clientURL: ClientURL, selfSigned: SelfSignedCertificate?
    ) -> [String] {
        guard clientURL.scheme == "https" else { return [] }
        var arguments: [String] = []
        if let selfSigned {
            arguments += ["--cert-file", selfSigned.certificatePath, "--key-file", selfSigned.keyPath]
        } else if let certFile = security.certFile, let keyFile = security.keyFile {
            arguments += ["--cert-file", certFile, "--key-file", keyFile]
        }
        if let trustedCAFile = security.trustedCAFile { arguments += ["--trusted-ca-file", trustedCAFile] }
        if security.clientCertAuth { arguments.append("--client-cert-auth") }
        if !security.cipherSuites.isEmpty { arguments += ["--cipher-suites", security.cipherSuites.joined(separator: ",")] }
        return arguments
    }

    /// The kv store's (requests, events) endpoints as it binds them and as local services reach them:
    /// the `ipc://` sockets, or TCP with `--bus-listen`.
    private static func kvEndpoints(
        _ configuration: EtcdConfiguration, bus: BusLayout
    ) -> (bind: (requests: String, events: String), connect: (requests: String, events: String)) {
        guard let tcp = configuration.busListen else {
            let ipc = (bus.endpoint(of: kvSocket), bus.endpoint(of: kvEventsSocket))
            return (ipc, ipc)
        }
        return ((tcp.requests, tcp.events), (tcp.local.requests, tcp.local.events))
    }

    private static func kvService(
        _ configuration: EtcdConfiguration,
        dataDirectory: String,
        bind: (requests: String, events: String)
    ) -> ServiceSpec {
        ServiceSpec(
            executable: "etcetera-kv",
            arguments: [
                "--data-dir", kvDataDirectory(in: dataDirectory),
                "--listen", bind.requests,
                "--events", bind.events,
                "--max-txn-ops", String(configuration.maxTxnOps),
                "--quota-backend-bytes", String(configuration.effectiveQuotaBackendBytes ?? -1),
                "--name", configuration.name,
                "--peer-urls", configuration.peerURLs.joined(separator: ","),
                "--compaction-batch-limit", String(configuration.compactionBatchLimit),
                "--corrupt-check-interval-ms", String(configuration.corruptCheckIntervalMilliseconds),
                "--log-level", configuration.logLevel.rawValue,
            ]
        )
    }

    /// The auth backend `--auth-backend` asks for: the service to start (none for `endpoint:`) and the
    /// endpoints the gateway connects to.
    private static func authBackend(
        _ configuration: EtcdConfiguration, dataDirectory: String, workingDirectory: String, bus: BusLayout
    ) -> (service: ServiceSpec?, endpoints: (requests: String, events: String)) {
        let endpoints = (requests: bus.endpoint(of: authSocket), events: bus.endpoint(of: authEventsSocket))
        let busFlags = ["--listen", endpoints.requests, "--events", endpoints.events, "--auth-token-ttl", String(configuration.authTokenTTL)]
        let dataDirectoryFlag = ["--data-dir", authDataDirectory(in: dataDirectory)]
        let bcryptCostFlag = ["--bcrypt-cost", String(configuration.bcryptCost)]
        let logFlags = ["--log-level", configuration.logLevel.rawValue]
        switch configuration.authBackend {
        case .builtin:
            let arguments = dataDirectoryFlag + busFlags + ["--auth-token", configuration.authToken] + bcryptCostFlag + logFlags
            return (ServiceSpec(executable: "etcetera-auth", arguments: arguments), endpoints)
        case .file(let path):
            let arguments = ["--file", Path.absolute(path, workingDirectory: workingDirectory)] + busFlags + logFlags
            return (ServiceSpec(executable: "etcetera-auth-file", arguments: arguments), endpoints)
        case .exec(let command):
            // Named after the program, so the launcher's log lines say which backend exited.
            let executable = command[0]
            let name = executable.split(separator: "/").last.map(String.init) ?? executable
            let arguments = Array(command.dropFirst()) + busFlags + dataDirectoryFlag + bcryptCostFlag + logFlags
            return (ServiceSpec(name: name, executable: executable, arguments: arguments), endpoints)
        case .endpoint(let requests, let events):
            return (nil, (requests, events))
        }
    }

    private static func leaseService(
        _ configuration: EtcdConfiguration, dataDirectory: String, bus: BusLayout, kv: (requests: String, events: String)
    ) -> ServiceSpec {
        ServiceSpec(
            executable: "etcetera-lease",
            arguments: [
                "--data-dir", leaseDataDirectory(in: dataDirectory),
                "--listen", bus.endpoint(of: leaseSocket),
                "--kv", kv.requests,
                "--log-level", configuration.logLevel.rawValue,
            ] + (configuration.leaseCheckpoints ? ["--lease-checkpoints"] : [])
        )
    }

    private static func maintenanceService(
        _ configuration: EtcdConfiguration, bus: BusLayout, kv: (requests: String, events: String)
    ) -> ServiceSpec {
        ServiceSpec(
            executable: "etcetera-maintenance",
            arguments: [
                "--listen", bus.endpoint(of: maintenanceSocket),
                "--kv", kv.requests,
                "--name", configuration.name,
                "--peer-urls", configuration.peerURLs.joined(separator: ","),
                "--client-urls", configuration.advertiseClientURLs.map(\.string).joined(separator: ","),
                "--auto-compaction-mode", configuration.autoCompactionMode.rawValue,
                "--auto-compaction-retention", configuration.autoCompactionRetention,
                "--log-level", configuration.logLevel.rawValue,
            ]
        )
    }

    private static func watchService(
        _ configuration: EtcdConfiguration, index: Int, bus: BusLayout, kv: (requests: String, events: String)
    ) -> ServiceSpec {
        ServiceSpec(
            name: "etcetera-watch-\(index)",
            executable: "etcetera-watch",
            arguments: [
                "--listen", bus.endpoint(of: watchSocket(index)),
                "--kv", kv.requests,
                "--kv-events", kv.events,
                "--progress-notify-interval-ms", String(configuration.watchProgressNotifyIntervalMilliseconds),
                "--log-level", configuration.logLevel.rawValue,
            ]
        )
    }

    private static func gatewayService(
        _ configuration: EtcdConfiguration,
        dataDirectory: String,
        kv: (requests: String, events: String),
        bus: BusLayout,
        auth: (requests: String, events: String),
        clientURL: ClientURL,
        watchEndpoints: [String],
        tls: [String]
    ) -> ServiceSpec {
        let metricsURLs = configuration.listenMetricsURLs.filter { $0.scheme == "http" }.map(\.string)
        let keepalive = configuration.effectiveGRPCKeepalive
        /// Whole milliseconds, at least one (a positive duration below one stays positive).
        func milliseconds(_ duration: Duration) -> Int64 {
            let (seconds, attoseconds) = duration.components
            let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1000)
            return overflow ? Int64.max : max(1, whole.addingReportingOverflow(attoseconds / 1_000_000_000_000_000).partialValue)
        }
        return ServiceSpec(
            executable: "etcetera-gateway",
            arguments: watchEndpoints.flatMap { ["--watch", $0] } + tls
                + (metricsURLs.isEmpty ? [] : ["--listen-metrics-urls", metricsURLs.joined(separator: ",")]) + [
                "--name", configuration.name,
                "--peer-urls", configuration.peerURLs.joined(separator: ","),
                "--listen-client-urls", clientURL.string,
                "--kv", kv.requests,
                "--lease", bus.endpoint(of: leaseSocket),
                "--maintenance", bus.endpoint(of: maintenanceSocket),
                "--auth", auth.requests,
                "--auth-events", auth.events,
                "--max-request-bytes", String(configuration.maxRequestBytes),
                "--max-concurrent-streams", String(configuration.maxConcurrentStreams),
                "--grpc-keepalive-min-time-ms", String(milliseconds(keepalive.minTime)),
                "--grpc-keepalive-interval-ms", String(milliseconds(keepalive.interval)),
                "--grpc-keepalive-timeout-ms", String(milliseconds(keepalive.timeout)),
                "--client-idle-timeout-ms", String(milliseconds(configuration.clientIdleTimeout)),
                "--cors", configuration.corsOrigins.joined(separator: ","),
                "--host-whitelist", configuration.hostWhitelist.joined(separator: ","),
                "--data-dir", dataDirectory,
                "--log-level", configuration.logLevel.rawValue,
            ]
        )
    }
}
