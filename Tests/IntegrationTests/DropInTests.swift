import Foundation
import TestSupport
import Testing

/// Etcetera standing in for `etcd` in scripts: configured the ways etcd is (`ETCD_*` variables, a
/// `--config-file`), with the same settings given to both, it serves on the URL, keeps its data in
/// the directory and prints the readiness lines in etcd 3.4's shape; `--version` has etcd's layout.
@Suite("Drop-in for etcd", .serialized, .timeLimit(.minutes(10)))
struct DropInTests {
    /// How the settings reach the server.
    enum Way: CaseIterable {
        case environment
        case configFile
    }

    /// What one server did with the settings.
    struct Outcome {
        let readinessLines: [String]
        let printed: String
        let stored: String
        let dataDirectoryHasMember: Bool
    }

    /// Starts `executable` configured `way` with etcd's settings for a fresh member (peer settings
    /// included: Etcetera warns about those it does not use), waits for its readiness line, writes and
    /// reads a key, and stops it.
    private func run(_ executable: String, _ way: Way) async throws -> Outcome {
        let directory = TestPaths.temporaryDirectory(prefix: "drop-in")
        let client = "http://127.0.0.1:\(FreePort.pick())"
        let peer = "http://127.0.0.1:\(FreePort.pick())"
        var settings = [
            "data-dir": directory + "/data", "listen-client-urls": client, "advertise-client-urls": client,
            "listen-peer-urls": peer, "initial-advertise-peer-urls": peer, "initial-cluster": "default=\(peer)",
        ]
        // The last start-up line of each shape, and the lines before it that etcd's own e2e harness waits for.
        let marker: String
        let startupMarkers: [String]
        switch way {
        case .environment:
            marker = "serving insecure client requests"
            startupMarkers = ["etcdserver: published", "enabled capabilities for version", "ready to serve client requests", marker]
        case .configFile:
            settings["logger"] = "zap"
            marker = "serving client traffic insecurely"
            startupMarkers = ["published local member to cluster", "enabled capabilities for version", marker]
        }
        var arguments: [String] = []
        var environment: [String: String] = [:]
        switch way {
        case .environment:
            for (name, value) in settings { environment["ETCD_" + name.uppercased().replacingOccurrences(of: "-", with: "_")] = value }
        case .configFile:
            let path = directory + "/etcd.yml"
            try settings.map { "\($0.key): '\($0.value)'\n" }.joined().write(toFile: path, atomically: true, encoding: .utf8)
            arguments = ["--config-file", path]
        }
        let server = try LoggedProcess(executable: executable, arguments: arguments, environment: environment, logPath: directory + "/log")
        defer { server.stop() }
        #expect(await eventually(within: .seconds(30)) { server.log.contains(marker) }, "\(executable) became ready: \(server.log)")
        let endpoint = String(client.dropFirst("http://".count))
        let put = try await Etcdctl.run(["put", "drop-in", "value"], endpoint: endpoint)
        let get = try await Etcdctl.run(["get", "drop-in"], endpoint: endpoint)
        var isDirectory: ObjCBool = false
        let member = FileManager.default.fileExists(atPath: directory + "/data/member", isDirectory: &isDirectory) && isDirectory.boolValue
        return Outcome(
            readinessLines: server.log.split(separator: "\n").filter { line in startupMarkers.contains { line.contains($0) } }.map(String.init),
            printed: put.stdout + put.stderr,
            stored: get.stdout, dataDirectoryHasMember: member)
    }

    @Test("ETCD_* variables and --config-file configure Etcetera as they configure etcd", arguments: Way.allCases)
    func configuredLikeEtcd(way: Way) async throws {
        let etcd = try await run("/usr/bin/etcd", way)
        let etcetera = try await run(TestPaths.executable("etcetera"), way)
        for outcome in [etcd, etcetera] {
            #expect(outcome.printed == "OK\n")
            #expect(outcome.stored == "drop-in\nvalue\n")
            #expect(outcome.dataDirectoryHasMember, "the data directory holds member/")
        }
        // etcd prints the capabilities line when its cluster version is set, which races with serving:
        // the same lines, in whichever order.
        #expect(etcetera.readinessLines.map(Self.shape).sorted() == etcd.readinessLines.map(Self.shape).sorted(),
                "\(etcetera.readinessLines) vs \(etcd.readinessLines)")
        #expect(etcetera.readinessLines.count == (way == .environment ? 4 : 3), "\(etcetera.readinessLines)")
    }

    @Test("--log-outputs sends the launcher's and every service's lines to a file, or to a file and standard error, as etcd's zap logger does")
    func logOutputs() async throws {
        for alsoStandardError in [false, true] {
            let directory = TestPaths.temporaryDirectory(prefix: "log-outputs")
            let file = directory + "/etcd.log"
            let client = "http://127.0.0.1:\(FreePort.pick())"
            let server = try LoggedProcess(
                executable: TestPaths.executable("etcetera"),
                arguments: [
                    "--data-dir", directory + "/data", "--listen-client-urls", client, "--advertise-client-urls", client,
                    "--logger", "zap", "--log-outputs", alsoStandardError ? "stderr,\(file)" : file,
                ],
                logPath: directory + "/console")
            defer { server.stop() }
            let fileLog = { (try? String(contentsOfFile: file, encoding: .utf8)) ?? "" }
            #expect(await eventually(within: .seconds(30)) { fileLog().contains("serving client traffic insecurely") }, "\(server.log)")
            #expect(fileLog().contains("kv service serving"), "a service's own line reaches the file")
            #expect(server.log.contains("serving client traffic insecurely") == alsoStandardError, "\(server.log)")
            let mode = try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int
            #expect(mode == 0o600)
        }
    }

    @Test("--version prints etcd's layout: one 'Name: value' per line, the version first")
    func version() async throws {
        let etcd = try await Command.run("/usr/bin/etcd", ["--version"])
        let etcetera = try await Command.run(TestPaths.executable("etcetera"), ["--version"])
        let line = /[A-Za-z][A-Za-z \/]*: \S.*/
        for output in [etcd, etcetera] {
            #expect(output.status == 0)
            let lines = output.stdout.split(separator: "\n")
            #expect(lines.count >= 4 && lines.allSatisfy { $0.wholeMatch(of: line) != nil }, "\(output.stdout)")
        }
        #expect(etcd.stdout.hasPrefix("etcd Version: 3.4."))
        #expect(etcetera.stdout.hasPrefix("etcetera Version: "))
        #expect(etcetera.stdout.contains("etcd API Version: 3.4\n"))
    }

    @Test("etcdctl make-mirror copies etcd's keys into Etcetera and keeps them in step (the migration path)")
    func makeMirrorFromEtcd() async throws {
        let etcd = try await ServerProcess.etcd()
        defer { etcd.stop() }
        let etcetera = try await ServerProcess.etcetera()
        defer { etcetera.stop() }
        for index in 0..<20 { _ = try await Etcdctl.run(["put", "app/\(index)", "value \(index)"], endpoint: etcd.endpoint) }
        let mirror = try Etcdctl.start(["make-mirror", etcetera.endpoint], endpoint: etcd.endpoint)
        #expect(await eventually { Self.keyCount(etcetera.endpoint) == 20 }, "the existing keys were copied")
        _ = try await Etcdctl.run(["put", "app/late", "written during the mirror"], endpoint: etcd.endpoint)
        _ = try await Etcdctl.run(["del", "app/3"], endpoint: etcd.endpoint)
        #expect(
            await eventually { Self.keys(etcetera.endpoint).map { $0.contains("app/late") && !$0.contains("app/3\n") } == true },
            "changes made meanwhile follow")
        mirror.stop()
        let source = try await Etcdctl.run(["get", "--prefix", ""], endpoint: etcd.endpoint)
        let copy = try await Etcdctl.run(["get", "--prefix", ""], endpoint: etcetera.endpoint)
        #expect(copy.stdout == source.stdout && source.stdout.contains("app/late"))
    }

    /// How many keys Etcetera holds, read synchronously for `eventually`.
    private static func keyCount(_ endpoint: String) -> Int? {
        etcdctl(endpoint, ["get", "--prefix", "", "--limit", "1", "-w", "fields"])?.firstMatch(of: /"Count" : (\d+)/).flatMap { Int($0.1) }
    }

    /// The keys Etcetera holds, one a line, read synchronously for `eventually`.
    private static func keys(_ endpoint: String) -> String? {
        etcdctl(endpoint, ["get", "--prefix", "", "--keys-only"])
    }

    private static func etcdctl(_ endpoint: String, _ arguments: [String]) -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/etcdctl")
        process.arguments = ["--endpoints", endpoint] + arguments
        process.environment = ["ETCDCTL_API": "3"]
        let started = try? process.runAlone {
            let pipe = Pipe()
            process.standardOutput = pipe
            return pipe
        }
        guard let pipe = started else { return nil }
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return output
    }

    /// A log line with its time, address and source location blanked out: what scripts can rely on.
    private static func shape(_ line: String) -> String {
        line.replacing(/\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d\.\d+Z?/, with: "TIME")
            .replacing(/127\.0\.0\.1:\d+/, with: "ADDRESS")
            .replacing(/"caller":"[^"]*"/, with: "\"caller\":\"CALLER\"")
            .replacing(/\b[0-9a-f]{8,16}\b/, with: "ID")
    }
}
