import Foundation
import TestSupport
import Testing

/// The Go clientv3 (what etcdctl, Kubernetes and most etcd users run) under sustained concurrent
/// load: every request must succeed. grpc-go pings about once per round trip while estimating
/// bandwidth, which a server with HTTP/2 ping-flood limits would answer by closing the connection.
@Suite("Go clientv3", .timeLimit(.minutes(10)))
struct GoClientTests {
    @Test("16 workers × 300 put+get pairs over one connection all succeed")
    func sustainedLoad() async throws {
        let program = try await GoProgram.build("loadcheck")
        let etcetera = try await ServerProcess.etcetera()
        defer { etcetera.stop() }
        let output = try await GoProgram.run(program, [etcetera.endpoint, "16", "300"])
        #expect(output.status == 0, "\(output.stdout)\(output.stderr)")
        #expect(output.stdout.contains("9600 requests"))
        #expect(output.stdout.contains(", 0 failed"))
    }
}

/// Builds and runs the Go programs in Tests/GoClients against Debian's packaged etcd client sources
/// (golang-etcd-server-dev), offline.
enum GoProgram {
    static var sources: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("GoClients").path
    }

    static func build(_ name: String) async throws -> String {
        let output = TestPaths.temporaryDirectory(prefix: "go-\(name)") + "/" + name
        let result = try await Command.run("/usr/bin/go", ["build", "-o", output, "./\(name)"], directory: sources, environment: [
            "GOPATH": TestPaths.temporaryDirectory(prefix: "gopath") + ":/usr/share/gocode",
            "GO111MODULE": "off", "GOCACHE": NSTemporaryDirectory() + "etcetera-go-cache",
        ])
        guard result.status == 0 else { throw TestFailure("go build \(name) failed:\n\(result.stderr)") }
        return output
    }

    static func run(_ program: String, _ arguments: [String]) async throws -> Command.Output {
        try await Command.run(program, arguments)
    }
}

/// The verdict of the `watchfailover` client, which watches with `streams` clients while `puts` keys
/// are written and a watch process is killed: every watcher saw exactly the revisions of the puts, once
/// each, in order.
func expectEveryWatcherSawEveryEvent(_ output: Command.Output, streams: Int, puts: Int, _ comment: Comment? = nil) {
    #expect(output.status == 0, "\(output.stdout)\(output.stderr)")
    #expect(output.stdout.contains("\(streams) watchers, \(puts) puts, 0 failed"), comment)
}
