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

    /// Runs a watch benchmark over the global endpoints and connections (--clients are put workers),
    /// prints its report and fails unless delivery was exact.
    func run(watch configuration: WatchBenchmark.Configuration) async throws {
        var configuration = configuration
        let runner = try runnerConfiguration(rate: 0)
        configuration.endpoints = runner.endpoints
        configuration.connections = conns
        configuration.putClients = configuration.lockstep ? 1 : clients
        let benchmark = try WatchBenchmark(configuration)
        let report = try await benchmark.run { line in
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
        if json {
            FileHandle.standardError.write(Data((report.text(precise: precise) + "\n").utf8))
            print(report.jsonLine())
        } else {
            print(report.text(precise: precise))
        }
        if !report.exact { throw ExitCode(3) }
    }

    /// Runs a defragment benchmark on the first endpoint, prints its report and fails if the
    /// Defragment call did.
    func run(defragment configuration: DefragmentBenchmark.Configuration) async throws {
        var configuration = configuration
        let runner = try runnerConfiguration(rate: 0)
        configuration.endpoint = runner.endpoints[0]
        configuration.requestTimeout = runner.requestTimeout
        let report = try await DefragmentBenchmark(configuration).run { line in
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
        if json {
            FileHandle.standardError.write(Data((report.text(precise: precise) + "\n").utf8))
            print(report.jsonLine())
        } else {
            print(report.text(precise: precise))
        }
        if !report.defragmentSucceeded { throw ExitCode(3) }
    }

    private func emit(_ line: String) {
        if json {
            FileHandle.standardError.write(Data((line + "\n").utf8))
        } else {
            print(line)
        }
    }
}
