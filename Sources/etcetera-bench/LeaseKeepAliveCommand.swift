import ArgumentParser
import Benchmarking

struct LeaseKeepAliveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "lease-keepalive", abstract: "Benchmark lease keepalive")

    @ParentCommand var root: EtceteraBench

    @Option(help: "Total number of lease keepalive requests.") var total = 10000

    func run() async throws {
        try await root.global.run(LeaseKeepAliveWorkload(total: total, clients: root.global.clients), rate: 0)
    }
}
