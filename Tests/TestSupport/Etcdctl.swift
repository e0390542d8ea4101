/// Runs the real `etcdctl` (Debian's etcd-client, API v3) against an endpoint.
public enum Etcdctl {
    public static func run(_ arguments: [String], endpoint: String, input: String? = nil) async throws -> Command.Output {
        try await Command.run(
            "/usr/bin/etcdctl", ["--endpoints", endpoint, "--command-timeout", "10s"] + arguments,
            environment: ["ETCDCTL_API": "3"], removingEnvironment: ["ETCDCTL_ENDPOINTS"], input: input)
    }

    /// Grants a lease with `etcdctl lease grant` and returns its ID as etcdctl's other commands take it
    /// (hexadecimal).
    public static func grantLease(ttl: Int, endpoint: String) async throws -> String {
        let granted = try await run(["lease", "grant", String(ttl), "-w", "json"], endpoint: endpoint)
        guard let id = granted.stdout.firstMatch(of: /"ID":(\d+)/).flatMap({ UInt64($0.1) }) else {
            throw TestFailure("etcdctl lease grant failed: \(granted.stdout)\(granted.stderr)")
        }
        return String(id, radix: 16)
    }

    /// Runs a command that does not end by itself (`watch`) for `seconds`, then stops it; returns what
    /// it printed. Only for checking that something does *not* happen meanwhile: what should happen is
    /// waited for with ``start(_:endpoint:)`` and ``RunningCommand/wait(within:until:)``, which do not
    /// depend on how busy the machine is.
    public static func runFor(seconds: Double, _ arguments: [String], endpoint: String) async throws -> String {
        let output = try await Command.run(
            "/usr/bin/timeout", [String(seconds), "/usr/bin/etcdctl", "--endpoints", endpoint] + arguments,
            environment: ["ETCDCTL_API": "3"], removingEnvironment: ["ETCDCTL_ENDPOINTS"])
        return output.stdout
    }

    /// Starts a command that does not end by itself (`watch`, `make-mirror`, `lock`, `elect`).
    public static func start(_ arguments: [String], endpoint: String) throws -> RunningCommand {
        try RunningCommand(
            "/usr/bin/etcdctl", ["--endpoints", endpoint] + arguments,
            environment: ["ETCDCTL_API": "3"], removingEnvironment: ["ETCDCTL_ENDPOINTS"])
    }

    /// Runs a command that does not end by itself until what it printed satisfies `condition` (or a
    /// minute passes), then stops it; returns what it printed. etcdctl prints one response in several
    /// writes, so the rest of the response that met `condition` is given a moment to arrive.
    public static func runUntil(_ arguments: [String], endpoint: String, _ condition: (String) -> Bool) async throws -> String {
        let command = try start(arguments, endpoint: endpoint)
        if await command.wait(until: condition) { try? await Task.sleep(for: .milliseconds(300)) }
        return command.stop()
    }
}
