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

    @Option(help: "NAME:PASSWORD; each connection authenticates once and sends its token with every request.")
    var user: String?

    func runnerConfiguration(rate: Int) throws -> BenchmarkRunner.Configuration {
        var configuration = BenchmarkRunner.Configuration()
        configuration.endpoints = try endpoints.split(separator: ",").map { try Endpoint(parsing: String($0)) }
        configuration.connections = conns
        configuration.clients = clients
        configuration.rate = rate
        configuration.timingStarted = { Self.writeToStandardError("timing started") }
        if requestTimeout > 0 { configuration.requestTimeout = .milliseconds(Int64(requestTimeout * 1000)) }
        if let user {
            guard let credentials = Credentials(parsing: user) else {
                throw BenchmarkError(code: .invalidConfiguration, message: "--user must be NAME:PASSWORD")
            }
            configuration.credentials = credentials
        }
        return configuration
    }

    /// Runs the workload and prints the report as etcd's tool does (or as JSON).
    func run(_ workload: some Workload, rate: Int) async throws {
        let runner = try BenchmarkRunner(runnerConfiguration(rate: rate))
        if let banner = workload.banner { emit(banner) }
        let report = try await runner.run(workload)
        printReport(report.text(precise: precise), jsonLine: report.jsonLine())
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
        let report = try await benchmark.run(log: Self.writeToStandardError)
        printReport(report.text(precise: precise), jsonLine: report.jsonLine())
        if !report.exact { throw ExitCode(3) }
    }

    /// Runs a defragment benchmark on the first endpoint, prints its report and fails if the
    /// Defragment call did.
    func run(defragment configuration: DefragmentBenchmark.Configuration) async throws {
        var configuration = configuration
        let runner = try runnerConfiguration(rate: 0)
        configuration.endpoint = runner.endpoints[0]
        configuration.requestTimeout = runner.requestTimeout
        let report = try await DefragmentBenchmark(configuration).run(log: Self.writeToStandardError)
        printReport(report.text(precise: precise), jsonLine: report.jsonLine())
        if !report.defragmentSucceeded { throw ExitCode(3) }
    }

    private func emit(_ line: String) {
        if json {
            Self.writeToStandardError(line)
        } else {
            print(line)
        }
    }

    /// The text report on stdout, or with `--json` the JSON line on stdout and the text on stderr.
    private func printReport(_ text: String, jsonLine: String) {
        if json {
            Self.writeToStandardError(text)
            print(jsonLine)
        } else {
            print(text)
        }
    }

    private static func writeToStandardError(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
