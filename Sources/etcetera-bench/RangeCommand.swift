import ArgumentParser
import Benchmarking

struct RangeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "range", abstract: "Benchmark range")

    @ParentCommand var root: EtceteraBench

    @Argument(help: "Key to range over.") var key: String
    @Argument(help: "Range end (exclusive); omit for a single key.") var end: String?
    @Option(help: "Maximum range requests per second (0 is no limit).") var rate = 0
    @Option(help: "Total number of range requests.") var total = 10000
    @Option(help: "Linearizable(l) or Serializable(s).") var consistency = "l"
    @Option(help: "Maximum number of keys returned per request (0 is no limit).") var limit: Int64 = 0

    func validate() throws {
        guard RangeWorkload.Consistency(rawValue: consistency) != nil else {
            throw ValidationError("--consistency must be l or s")
        }
    }

    func run() async throws {
        var configuration = RangeWorkload.Configuration(key: key)
        configuration.rangeEnd = end
        configuration.total = total
        configuration.consistency = RangeWorkload.Consistency(rawValue: consistency) ?? .linearizable
        configuration.limit = limit
        try await root.global.run(RangeWorkload(configuration), rate: rate)
    }
}
