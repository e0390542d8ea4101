/// The children `etcetera` runs for one configuration, in start order, and the places they share.
///
/// Services talk over `ipc://` sockets laid out by ``BusLayout``. `services` is started front to back
/// and stopped back to front, so a service comes after everything it connects to: the kv store first, the
/// gateway last, with the watch fan-out processes between them. Later services (lease, auth, maintenance)
/// go between the kv store and the gateway too, with their sockets listed in ``socketNames``.
public struct ServicePlan: Sendable, Hashable {
    /// The kv store's request/reply socket.
    public static let kvSocket = "kv.sock"
    /// The kv store's event stream (one message per committed revision).
    public static let kvEventsSocket = "kv-events.sock"
    /// Every fixed socket of the plan; the longest decides whether ``BusLayout`` falls back to `/tmp`.
    /// Watch sockets (`watch-0.sock` … `watch-63.sock`) are never longer than these.
    public static let socketNames = [kvSocket, kvEventsSocket]
    /// Most watch fan-out processes one box runs.
    public static let maximumWatchProcesses = 64

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
    /// The children in start order.
    public let services: [ServiceSpec]

    /// Plans the one-box deployment.
    /// - Parameters:
    ///   - configuration: the parsed configuration.
    ///   - workingDirectory: resolves a relative `--data-dir` (etcd's default `default.etcd` is relative).
    ///   - fallbackSocketParent: the parent of the short socket directory used when paths are too long.
    /// - Throws: `LauncherError` with `.invalidURL` if no listen URL is plaintext `http://`.
    public init(
        configuration: EtcdConfiguration,
        workingDirectory: String,
        fallbackSocketParent: String = "/tmp"
    ) throws {
        guard let clientURL = configuration.servedClientURL else {
            throw LauncherError(code: .invalidURL, message: "no http:// URL in --listen-client-urls")
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
        let watchProcesses = min(max(configuration.watchProcesses, 1), Self.maximumWatchProcesses)
        self.services =
            [Self.kvService(configuration, dataDirectory: dataDirectory, bus: bus)]
            + (0..<watchProcesses).map { Self.watchService(configuration, index: $0, bus: bus) }
            + [Self.gatewayService(configuration, dataDirectory: dataDirectory, bus: bus, clientURL: clientURL, watchProcesses: watchProcesses)]
    }

    /// `ipc://…/kv.sock`.
    public var kvEndpoint: String {
        bus.endpoint(of: Self.kvSocket)
    }

    /// `ipc://…/kv-events.sock`.
    public var kvEventsEndpoint: String {
        bus.endpoint(of: Self.kvEventsSocket)
    }

    private static func kvService(
        _ configuration: EtcdConfiguration,
        dataDirectory: String,
        bus: BusLayout
    ) -> ServiceSpec {
        ServiceSpec(
            executable: "etcetera-kv",
            arguments: [
                "--data-dir", Path.join(Path.join(dataDirectory, "member"), "kv"),
                "--listen", bus.endpoint(of: kvSocket),
                "--events", bus.endpoint(of: kvEventsSocket),
                "--max-txn-ops", String(configuration.maxTxnOps),
                "--log-level", configuration.logLevel.rawValue,
            ]
        )
    }

    private static func watchService(_ configuration: EtcdConfiguration, index: Int, bus: BusLayout) -> ServiceSpec {
        ServiceSpec(
            name: "etcetera-watch-\(index)",
            executable: "etcetera-watch",
            arguments: [
                "--listen", bus.endpoint(of: watchSocket(index)),
                "--kv", bus.endpoint(of: kvSocket),
                "--kv-events", bus.endpoint(of: kvEventsSocket),
                "--progress-notify-interval-ms", String(configuration.watchProgressNotifyIntervalMilliseconds),
                "--log-level", configuration.logLevel.rawValue,
            ]
        )
    }

    private static func gatewayService(
        _ configuration: EtcdConfiguration,
        dataDirectory: String,
        bus: BusLayout,
        clientURL: ClientURL,
        watchProcesses: Int
    ) -> ServiceSpec {
        ServiceSpec(
            executable: "etcetera-gateway",
            arguments: (0..<watchProcesses).flatMap { ["--watch", bus.endpoint(of: watchSocket($0))] } + [
                "--name", configuration.name,
                "--listen-client-urls", clientURL.string,
                "--advertise-client-urls", configuration.advertiseClientURLs.map(\.string).joined(separator: ","),
                "--kv", bus.endpoint(of: kvSocket),
                "--max-request-bytes", String(configuration.maxRequestBytes),
                "--data-dir", dataDirectory,
                "--log-level", configuration.logLevel.rawValue,
            ]
        )
    }
}
