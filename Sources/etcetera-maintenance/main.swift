import ArgumentParser
import Cluster
import Logging
import Maintenance
import MaintenanceService
import ServiceLifecycle
import ServiceStartup
import ServiceSupport

/// etcetera-maintenance: etcd's Maintenance and Cluster services for the member, and auto-compaction
/// (docs/maintenance.md).
@main
struct MaintenanceServiceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "etcetera-maintenance", abstract: "Etcetera's maintenance and cluster service.")

    @Option(help: "Request/reply bus endpoint to bind for gateways, e.g. ipc:///var/lib/etcetera/bus/maintenance.sock.")
    var listen: String

    @Option(help: "The kv service's request/reply endpoint.")
    var kv: String

    @OptionGroup var member: MemberOptions

    @Option(help: "Client URLs of the member, comma-separated (etcd's --advertise-client-urls).")
    var clientUrls: String = "http://localhost:2379"

    @Option(help: "periodic or revision (etcd's --auto-compaction-mode).")
    var autoCompactionMode: String = "periodic"

    @Option(help: "History to keep: a duration or hours (periodic), a count (revision); 0 turns auto-compaction off.")
    var autoCompactionRetention: String = "0"

    @OptionGroup var service: ServiceOptions

    func run() async throws {
        let autoCompaction: AutoCompaction?
        do {
            autoCompaction = try AutoCompaction(mode: autoCompactionMode, retention: autoCompactionRetention)
        } catch {
            throw ValidationError("\(error)")
        }
        let cluster = SingleMemberCluster(name: member.name, peerURLs: member.peerURLs, clientURLs: clientUrls.split(separator: ",").map(String.init))
        var configuration = MaintenanceServer.Configuration(listenEndpoint: listen, kvEndpoint: kv, cluster: cluster)
        configuration.autoCompaction = autoCompaction
        try await ServiceStartup.run("etcetera-maintenance", options: service) { logger in
            [try MaintenanceServer(configuration: configuration, logger: logger)]
        }
    }
}
