import Launcher
import Testing

@Suite("--auth-backend", .timeLimit(.minutes(10)))
struct AuthBackendChoiceTests {
    private func backend(_ arguments: [String], environment: [String: String] = [:]) throws -> AuthBackendChoice {
        try EtcdConfiguration.parse(arguments: arguments, environment: environment).configuration.authBackend
    }

    @Test("builtin is the default; file:, exec: and endpoint: parse; the flag wins over ETCD_AUTH_BACKEND")
    func parsing() throws {
        #expect(try backend([]) == .builtin)
        #expect(try backend(["--auth-backend", "builtin"]) == .builtin)
        #expect(try backend(["--auth-backend=file:/etc/etcetera/auth.json"]) == .file(path: "/etc/etcetera/auth.json"))
        #expect(try backend(["--auth-backend", "exec:/opt/bin/backend  --realm corp"]) == .exec(command: ["/opt/bin/backend", "--realm", "corp"]))
        #expect(try backend(["--auth-backend", "endpoint:tcp://auth:2395,tcp://auth:2396"])
            == .endpoint(requests: "tcp://auth:2395", events: "tcp://auth:2396"))
        #expect(try backend([], environment: ["ETCD_AUTH_BACKEND": "file:users.json"]) == .file(path: "users.json"))
        #expect(try backend(["--auth-backend", "builtin"], environment: ["ETCD_AUTH_BACKEND": "file:users.json"]) == .builtin)
    }

    @Test("the config file's auth-backend key is read like the flag")
    func configFile() throws {
        let request = try EtcdConfiguration.parse(
            arguments: ["--config-file", "/etc/etcd.yml"], readFile: { _ in "auth-backend: file:/etc/auth.json\n" })
        #expect(request.configuration.authBackend == .file(path: "/etc/auth.json"))
    }

    @Test("anything else is refused", arguments: [
        "", "ldap", "file:", "exec:", "exec:   ", "endpoint:tcp://a:1", "endpoint:tcp://a:1,", "endpoint:a,b", "endpoint:tcp://a:1,tcp://a:2,tcp://a:3",
    ])
    func refused(_ value: String) {
        #expect(throws: LauncherError.self) { try backend(["--auth-backend", value]) }
    }

    @Test("file: runs etcetera-auth-file with --file (made absolute) and the bus flags in the auth service's place")
    func filePlan() throws {
        var configuration = EtcdConfiguration(dataDirectory: "/d")
        configuration.authBackend = .file(path: "conf/auth.json")
        configuration.authTokenTTL = 60
        let plan = try ServicePlan(configuration: configuration, workingDirectory: "/home/op")
        #expect(plan.services[1] == ServiceSpec(executable: "etcetera-auth-file", arguments: [
            "--file", "/home/op/conf/auth.json", "--listen", "ipc:///d/bus/auth.sock", "--events", "ipc:///d/bus/auth-events.sock",
            "--auth-token-ttl", "60", "--log-level", "info",
        ]))
        let gateway = try #require(plan.services.last).arguments
        #expect(gateway.contains(["--auth", "ipc:///d/bus/auth.sock", "--auth-events", "ipc:///d/bus/auth-events.sock"]))
    }

    @Test("exec: runs the command with the standard backend flags appended, named after its program")
    func execPlan() throws {
        var configuration = EtcdConfiguration(dataDirectory: "/d")
        configuration.authBackend = .exec(command: ["/opt/bin/ldap-backend", "--realm", "corp"])
        let plan = try ServicePlan(configuration: configuration, workingDirectory: "/")
        #expect(plan.services[1] == ServiceSpec(name: "ldap-backend", executable: "/opt/bin/ldap-backend", arguments: [
            "--realm", "corp", "--listen", "ipc:///d/bus/auth.sock", "--events", "ipc:///d/bus/auth-events.sock",
            "--auth-token-ttl", "300", "--data-dir", "/d/member/auth", "--bcrypt-cost", "10", "--log-level", "info",
        ]))
    }

    @Test("endpoint: starts no backend and points the gateway at the one given")
    func endpointPlan() throws {
        var configuration = EtcdConfiguration(dataDirectory: "/d")
        configuration.authBackend = .endpoint(requests: "tcp://auth:2395", events: "tcp://auth:2396")
        let plan = try ServicePlan(configuration: configuration, workingDirectory: "/")
        #expect(plan.services.map(\.name) == ["etcetera-kv", "etcetera-lease", "etcetera-maintenance", "etcetera-watch-0", "etcetera-gateway"])
        let gateway = try #require(plan.services.last).arguments
        #expect(gateway.contains(["--auth", "tcp://auth:2395", "--auth-events", "tcp://auth:2396"]))
    }
}
