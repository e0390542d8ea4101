import ArgumentParser
import Foundation
import LeaseService
import Logging
import ServiceLifecycle
import ServiceStartup
import ServiceSupport
import Storage

/// etcetera-lease: the lease service. Keeps leases in its own LevelDB database and the kv store's
/// keys in step with them (docs/lease.md).
@main
struct LeaseServiceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "etcetera-lease", abstract: "Etcetera's lease service.")

    @Option(help: "Directory of the lease database (created if missing).")
    var dataDir: String

    @Option(help: "Request/reply bus endpoint to bind for gateways, e.g. ipc:///var/lib/etcetera/bus/lease.sock.")
    var listen: String

    @Option(help: "The kv service's request/reply endpoint.")
    var kv: String

    @Flag(help: "Record the time left of long leases every 5 minutes, and resume from it after a restart (etcd's --experimental-enable-lease-checkpoint).")
    var leaseCheckpoints = false

    @OptionGroup var service: ServiceOptions

    func run() async throws {
        try await ServiceStartup.run("etcetera-lease", options: service) { logger in
            try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
            var configuration = LeaseServer.Configuration(listenEndpoint: listen, kvEndpoint: kv)
            configuration.checkpoints = leaseCheckpoints
            return [try LeaseServer(configuration: configuration, storage: try LevelDBStorage(path: dataDir), logger: logger)]
        }
    }
}
