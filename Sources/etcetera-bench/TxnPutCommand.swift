import ArgumentParser
import Benchmarking

struct TxnPutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "txn-put", abstract: "Benchmark txn-put")

    @ParentCommand var root: EtceteraBench

    @Option(help: "Key size of txn put.") var keySize = 8
    @Option(help: "Value size of txn put.") var valSize = 8
    @Option(help: "Number of puts per txn.") var txnOps = 1
    @Option(help: "Maximum txns per second (0 is no limit).") var rate = 0
    @Option(help: "Total number of txn requests.") var total = 10000
    @Option(help: "Maximum possible keys.") var keySpaceSize = 1

    func run() async throws {
        var configuration = TxnPutWorkload.Configuration()
        configuration.total = total
        configuration.keySize = keySize
        configuration.valueSize = valSize
        configuration.keySpaceSize = keySpaceSize
        configuration.operationsPerTxn = txnOps
        try await root.global.run(TxnPutWorkload(configuration), rate: rate)
    }
}
