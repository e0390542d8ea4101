import ArgumentParser
import Benchmarking
import Foundation

/// etcd's persistent benchmark flags, plus `--json` and `--request-timeout`.
struct GlobalOptions: ParsableArguments {
    @Option(help: "gRPC endpoints, comma separated.")
    var endpoints = "127.0.0.1:2379"

    @Option(help: "Total number of gRPC connections.")
    var conns = 1

    @Option(help: "Total number of gRPC clients (concurrent workers, shared round-robin over connections).")
    var clients = 1

    @Flag(help: "Use full floating point precision.")
    var precise = false

    @Flag(help: "Print one JSON line with the results on stdout; the text report goes to stderr.")
    var json = false

    @Option(help: "Deadline for each request in seconds (0 waits forever, as etcd's tool does).")
    var requestTimeout: Double = 0

    func runnerConfiguration(rate: Int) throws -> BenchmarkRunner.Configuration {
        var configuration = BenchmarkRunner.Configuration()
        configuration.endpoints = try endpoints.split(separator: ",").map { try Endpoint(parsing: String($0)) }
        configuration.connections = conns
        configuration.clients = clients
        configuration.rate = rate
        if requestTimeout > 0 { configuration.requestTimeout = .milliseconds(Int64(requestTimeout * 1000)) }
        return configuration
    }

    /// Runs the workload and prints the report as etcd's tool does (or as JSON).
    func run(_ workload: some Workload, rate: Int) async throws {
        let runner = try BenchmarkRunner(runnerConfiguration(rate: rate))
        if let banner = workload.banner { emit(banner) }
        let report = try await runner.run(workload)
        if json {
            FileHandle.standardError.write(Data((report.text(precise: precise) + "\n").utf8))
            print(report.jsonLine())
        } else {
            print(report.text(precise: precise))
        }
    }

    private func emit(_ line: String) {
        if json {
            FileHandle.standardError.write(Data((line + "\n").utf8))
        } else {
            print(line)
        }
    }
}
