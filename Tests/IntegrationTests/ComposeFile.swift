import Foundation
import TestSupport
import Yams

/// `compose/docker-compose.yml` as `docker-compose config` resolves it (anchors merged, commands
/// unfolded), and its services' commands rewritten to run on this machine: the split-process tests
/// start exactly what the containers would run.
struct ComposeFile {
    struct Service {
        let command: [String]
        let containerName: String?
        let publishedPorts: [Int]
        let volumes: [String]
    }

    static var path: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("compose/docker-compose.yml").path
    }

    let services: [String: Service]
    let namedVolumes: [String]

    /// Runs `docker-compose config` (which fails on an invalid file) and reads its output.
    static func load() async throws -> ComposeFile {
        let output = try await Command.run("/usr/bin/docker-compose", ["-f", path, "config"])
        guard output.status == 0 else { throw TestFailure("docker-compose config failed:\n\(output.stderr)") }
        guard let root = try Yams.load(yaml: output.stdout) as? [String: Any],
              let services = root["services"] as? [String: [String: Any]]
        else { throw TestFailure("docker-compose config printed no services:\n\(output.stdout)") }
        return ComposeFile(
            services: services.mapValues { service in
                Service(
                    command: (service["command"] as? String)?.split(separator: " ").map(String.init) ?? [],
                    containerName: service["container_name"] as? String,
                    publishedPorts: (service["ports"] as? [[String: Any]] ?? []).compactMap { $0["published"] as? Int },
                    volumes: service["volumes"] as? [String] ?? [])
            },
            namedVolumes: (root["volumes"] as? [String: Any]).map { Array($0.keys) } ?? [])
    }

    /// Every port the commands name (`://host:PORT`).
    var ports: Set<Int> {
        Set(services.values.flatMap { $0.command.flatMap { $0.matches(of: Self.address).compactMap { Int($0.2) } } })
    }

    /// One free loopback port for each port of the file; ports next to each other stay next to each
    /// other (`etcetera-watch --bus tcp://kv:2390` expects the kv events on 2391).
    func freePorts() -> [Int: Int] {
        var mapping: [Int: Int] = [:]
        for port in ports.sorted() where mapping[port] == nil {
            if ports.contains(port + 1) {
                let base = FreePort.pick(consecutive: 2)
                mapping[port] = base
                mapping[port + 1] = base + 1
            } else {
                mapping[port] = FreePort.pick()
            }
        }
        return mapping
    }

    /// A service's command as it runs on this machine: every service name and wildcard address
    /// becomes 127.0.0.1 with its port from `ports`, and `/var/lib/etcetera` becomes `dataRoot`.
    func localCommand(of name: String, ports: [Int: Int], dataRoot: String) throws -> (executable: String, arguments: [String]) {
        guard let command = services[name]?.command, let executable = command.first else {
            throw TestFailure("no command for service \(name)")
        }
        let hosts = Set(services.keys).union(["0.0.0.0"])
        let arguments = command.dropFirst().map { argument in
            argument
                .replacing("/var/lib/etcetera", with: dataRoot)
                .replacing(Self.address) { match in
                    guard hosts.contains(String(match.1)), let port = Int(match.2), let local = ports[port] else {
                        return String(match.0)
                    }
                    return "://127.0.0.1:\(local)"
                }
        }
        return (TestPaths.executable(executable), arguments)
    }

    nonisolated(unsafe) private static let address = /:\/\/([A-Za-z0-9.\-]+):(\d+)/
}
