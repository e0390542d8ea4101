import ArgumentParser
import Bus
import Foundation
import LeaseService
import Logging
import ServiceLifecycle
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

    @Option(help: "debug, info, warn or error.")
    var logLevel: String = "info"

    @Option(help: "Directory of the bus's CURVE keys (etcetera bus-keys DIR); encrypts the tcp:// bus endpoints.")
    var busCurveKeys: String?

    @Flag(help: "Accept tcp:// bus endpoints without --bus-curve-keys: plaintext and unauthenticated (warns at every start).")
    var busInsecure = false

    func run() async throws {
        let logger = ServiceLogging.bootstrap(label: "etcetera-lease", level: logLevel)
        try BusTransportSecurity.useForThisProcess(curveKeysDirectory: busCurveKeys, insecure: busInsecure, logger: logger)
        try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
        let server = try LeaseServer(
            configuration: .init(listenEndpoint: listen, kvEndpoint: kv), storage: try LevelDBStorage(path: dataDir), logger: logger)
        let group = ServiceGroup(services: [MemoryReclaimer(), server], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
    }
}
