import ArgumentParser
import Logging
import ServiceLifecycle
import ServiceSupport
import WatchService

/// etcetera-watch: the watch fan-out service. The one-box launcher starts one or more; more can run
/// elsewhere against the same kv service (`--kv tcp://…`).
@main
struct WatchServiceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "etcetera-watch", abstract: "Etcetera's watch fan-out service.")

    @Option(help: "Request/reply bus endpoint to bind for gateways, e.g. ipc:///var/lib/etcetera/bus/watch-0.sock or tcp://0.0.0.0:23791.")
    var listen: String

    @Option(help: "The kv service's request/reply endpoint.")
    var kv: String

    @Option(help: "The kv service's event stream endpoint.")
    var kvEvents: String

    @Option(help: "Progress notification interval in milliseconds (etcd's --experimental-watch-progress-notify-interval).")
    var progressNotifyIntervalMs: Int = 600_000

    @Option(help: "debug, info, warn or error.")
    var logLevel: String = "info"

    func run() async throws {
        let logger = ServiceLogging.bootstrap(label: "etcetera-watch", level: logLevel)
        var configuration = WatchServer.Configuration(listenEndpoint: listen, kvEndpoint: kv, kvEventsEndpoint: kvEvents)
        configuration.progressNotifyInterval = .milliseconds(max(progressNotifyIntervalMs, 1))
        let server = try WatchServer(configuration: configuration, logger: logger)
        let group = ServiceGroup(services: [MemoryReclaimer(), server], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
    }
}
