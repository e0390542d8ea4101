import ArgumentParser
import Logging
import ServiceLifecycle
import ServiceStartup
import ServiceSupport
import WatchService

/// etcetera-watch: the watch fan-out service. The one-box launcher starts one or more; more can run
/// on other machines against the same kv store (`--bus tcp://HOST:PORT --listen tcp://0.0.0.0:PORT`,
/// with the launcher's `--bus-listen` and `--external-watch-endpoints`), and announce themselves to
/// gateways with `--announce` so that a deployment can add them without reconfiguring the gateway.
@main
struct WatchServiceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "etcetera-watch", abstract: "Etcetera's watch fan-out service.")

    @Option(help: "Request/reply bus endpoint to bind for gateways, e.g. ipc:///var/lib/etcetera/bus/watch-0.sock or tcp://0.0.0.0:23791.")
    var listen: String

    @Option(help: "The kv store's bus as served by `etcetera --bus-listen tcp://HOST:PORT` on another machine: requests on PORT, events on PORT+1 (instead of --kv and --kv-events).")
    var bus: String?

    @Option(help: "The kv service's request/reply endpoint.")
    var kv: String?

    @Option(help: "The kv service's event stream endpoint.")
    var kvEvents: String?

    func validate() throws {
        if let bus {
            guard KVBusEndpoints(tcp: bus) != nil else { throw ValidationError("--bus expects tcp://HOST:PORT") }
            guard kv == nil, kvEvents == nil else { throw ValidationError("--bus replaces --kv and --kv-events") }
        } else if kv == nil || kvEvents == nil {
            throw ValidationError("give --bus, or both --kv and --kv-events")
        }
    }

    @Option(help: "A gateway's watch registry to announce this process to (etcetera-gateway --watch-registry); repeat for several gateways.")
    var announce: [String] = []

    @Option(help: "This process's endpoint as gateways reach it (default: --listen, with a wildcard host replaced by this machine's address).")
    var advertise: String?

    @Option(help: "Progress notification interval in milliseconds (etcd's --experimental-watch-progress-notify-interval).")
    var progressNotifyIntervalMs: Int = 600_000

    @OptionGroup var service: ServiceOptions

    func run() async throws {
        let remote = bus.flatMap { KVBusEndpoints(tcp: $0) }
        var configuration = WatchServer.Configuration(
            listenEndpoint: listen, kvEndpoint: remote?.requests ?? kv ?? "", kvEventsEndpoint: remote?.events ?? kvEvents ?? "")
        configuration.progressNotifyInterval = .milliseconds(max(progressNotifyIntervalMs, 1))
        try await ServiceStartup.run("etcetera-watch", options: service) { logger in
            var services: [any Service] = [try WatchServer(configuration: configuration, logger: logger)]
            if !announce.isEmpty {
                let endpoint = advertise ?? AdvertisedEndpoint.forBind(listen)
                services.append(try WatchAnnouncer(advertisedEndpoint: endpoint, registryEndpoints: announce, logger: logger))
            }
            return services
        }
    }
}
