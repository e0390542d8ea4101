import ArgumentParser
import Benchmarking
import Foundation

struct DefragCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "defrag",
        abstract: "Benchmark defragment: a steady writer and reader before, during and after one Defragment call",
        discussion: """
            Puts and single-key ranges, one at a time each on a connection of its own, pick random keys of \
            --key-space-size. After --before-seconds one Defragment call is made on a third connection; \
            the load goes on until --after-seconds after its answer. Reports the call's time and, for the \
            calls outstanding during it, the longest put (the longest write pause), percentiles and errors. \
            Uses the first of --endpoints; --conns and --clients do not apply. Exits 3 if the Defragment \
            call failed.
            """)

    @ParentCommand var root: EtceteraBench

    @Option(help: "Puts per second, one at a time.") var putRate = 300
    @Option(help: "Ranges per second, one at a time (0 is as fast as answered).") var readRate = 1000
    @Option(help: "Linearizable(l) or Serializable(s) ranges.") var consistency = "l"
    @Option(help: "Key size of put and range requests.") var keySize = 8
    @Option(help: "Value size of put requests.") var valSize = 256
    @Option(help: "Maximum possible keys.") var keySpaceSize = 4096
    @Option(help: "Seconds of load before the Defragment call.") var beforeSeconds = 3.0
    @Option(help: "Seconds of load after the Defragment call is answered.") var afterSeconds = 3.0

    func validate() throws {
        guard consistency == "l" || consistency == "s" else {
            throw ValidationError("--consistency must be l or s")
        }
    }

    func run() async throws {
        var configuration = DefragmentBenchmark.Configuration()
        configuration.putRate = putRate
        configuration.readRate = readRate
        configuration.serializableReads = consistency == "s"
        configuration.keySize = keySize
        configuration.valueSize = valSize
        configuration.keySpaceSize = keySpaceSize
        configuration.beforeSeconds = beforeSeconds
        configuration.afterSeconds = afterSeconds
        try await root.global.run(defragment: configuration)
    }
}
