import ArgumentParser
import Foundation
import KVService
import Logging
import MVCC
import ServiceLifecycle
import ServiceStartup
import ServiceSupport
import Storage

/// etcetera-kv: the MVCC key-value store service. The one-box launcher starts it; it also runs alone
/// for split deployments.
@main
struct KVServiceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "etcetera-kv", abstract: "Etcetera's MVCC key-value store service.")

    @Option(help: "Directory of the store's LevelDB database (created if missing).")
    var dataDir: String

    @Option(help: "Request/reply bus endpoint to bind, e.g. ipc:///var/lib/etcetera/bus/kv.sock or tcp://0.0.0.0:23790.")
    var listen: String

    @Option(help: "Event stream endpoint to bind (committed revisions).")
    var events: String

    @Option(help: "Maximum compares or operations in one txn (etcd's --max-txn-ops).")
    var maxTxnOps: Int = 128

    @Option(help: "Backend quota in bytes (etcd's --quota-backend-bytes, given as the launcher resolves it); negative: no quota.")
    var quotaBackendBytes: Int64 = -1

    @Option(help: "Most revisions a compaction deletes in one batch (etcd's --experimental-compaction-batch-limit).")
    var compactionBatchLimit: Int = 1000

    @Option(help: "Milliseconds between whole-store corruption checks while serving (etcd's --experimental-corrupt-check-time); 0: at start only.")
    var corruptCheckIntervalMs: Int = 0

    @OptionGroup var member: MemberOptions

    @OptionGroup var service: ServiceOptions

    func run() async throws {
        var opened: MVCCStore?
        defer { opened?.close() }
        try await ServiceStartup.run("etcetera-kv", options: service) { logger in
            try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
            var storeConfiguration = MVCCStore.Configuration()
            storeConfiguration.maxTxnOperations = maxTxnOps
            storeConfiguration.quotaBackendBytes = quotaBackendBytes < 0 ? nil : quotaBackendBytes
            storeConfiguration.memberID = member.identity.memberID
            storeConfiguration.compactionBatchLimit = max(compactionBatchLimit, 1)
            let store: MVCCStore
            do {
                store = try MVCCStore(storage: try LevelDBStorage(path: dataDir), configuration: storeConfiguration)
            } catch {
                // One line that names the directory and the engine's own words, then a failed exit: a
                // damaged database is the operator's to repair (or restore from a snapshot), not a crash.
                logger.critical("cannot open the store in \(dataDir): \(error)")
                throw ExitCode.failure
            }
            opened = store
            var serverConfiguration = KVServer.Configuration(listenEndpoint: listen, eventsEndpoint: events)
            serverConfiguration.snapshotDirectory = dataDir + "/snapshots"
            serverConfiguration.corruptCheckInterval = corruptCheckIntervalMs > 0 ? .milliseconds(corruptCheckIntervalMs) : nil
            return [try KVServer(store: store, configuration: serverConfiguration, logger: logger)]
        }
    }
}
