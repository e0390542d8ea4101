/// Runs the real `etcdctl` (Debian's etcd-client, API v3) against an endpoint.
public enum Etcdctl {
    public static func run(_ arguments: [String], endpoint: String, input: String? = nil) async throws -> Command.Output {
        try await Command.run(
            "/usr/bin/etcdctl", ["--endpoints", endpoint, "--command-timeout", "10s"] + arguments,
            environment: ["ETCDCTL_API": "3"], removingEnvironment: ["ETCDCTL_ENDPOINTS"], input: input)
    }

    /// Runs a command that does not end by itself (`watch`) for `seconds`, then stops it; returns what
    /// it printed.
    public static func runFor(seconds: Double, _ arguments: [String], endpoint: String) async throws -> String {
        let output = try await Command.run(
            "/usr/bin/timeout", [String(seconds), "/usr/bin/etcdctl", "--endpoints", endpoint] + arguments,
            environment: ["ETCDCTL_API": "3"], removingEnvironment: ["ETCDCTL_ENDPOINTS"])
        return output.stdout
    }
}
