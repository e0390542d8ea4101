import ArgumentParser
import Benchmarking

struct PutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "put", abstract: "Benchmark put")

    @ParentCommand var root: EtceteraBench

    @Option(help: "Key size of put request.") var keySize = 8
    @Option(help: "Value size of put request.") var valSize = 8
    @Option(help: "Maximum puts per second (0 is no limit).") var rate = 0
    @Option(help: "Total number of put requests.") var total = 10000
    @Option(help: "Maximum possible keys.") var keySpaceSize = 1
    @Flag(help: "Use sequential keys.") var sequentialKeys = false
    @Flag(help: "Give every put its own random value (etcd's tool shares one), so storage compression finds nothing to compress.")
    var distinctValues = false

    func run() async throws {
        var configuration = PutWorkload.Configuration()
        configuration.total = total
        configuration.keySize = keySize
        configuration.valueSize = valSize
        configuration.keySpaceSize = keySpaceSize
        configuration.sequentialKeys = sequentialKeys
        configuration.distinctValues = distinctValues
        try await root.global.run(PutWorkload(configuration), rate: rate)
    }
}
