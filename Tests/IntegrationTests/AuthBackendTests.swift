import Foundation
import TestSupport
import Testing

/// `etcetera --auth-backend`: the file backend started by the launcher, directly and through `exec:`,
/// enforced by the gateway for etcdctl.
@Suite("etcetera --auth-backend", .serialized, .timeLimit(.minutes(10)))
struct AuthBackendTests {
    /// root (rootpw) and alice (alicepw), who may read /app/ and nothing else; auth on.
    static let authFile = """
        {
          "enabled": true,
          "users": [
            { "name": "root",  "password_hash": "$2b$04$8y7Yka57QgwMUzoVWnbKeuZIEED7blQtMMXMywi67QcSbeXepZDle", "roles": ["root"] },
            { "name": "alice", "password_hash": "$2a$04$3dCvf34Or8htxaSIXRZhI.lJMo4BMIYuflBvAOSFI0zUPLTf5zjT2", "roles": ["reader"] }
          ],
          "roles": [
            { "name": "reader", "permissions": [ { "type": "READ", "key": "/app/", "range_end": "/app0" } ] }
          ]
        }
        """

    static func writeAuthFile() throws -> String {
        let path = TestPaths.temporaryDirectory(prefix: "auth-file") + "/auth.json"
        try authFile.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("file:PATH: alice reads what the file allows, is denied the rest, and user add prints the read-only error")
    func fileBackend() async throws {
        let path = try Self.writeAuthFile()
        let etcetera = try await ServerProcess.etcetera(extraArguments: ["--auth-backend", "file:\(path)"])
        defer { etcetera.stop() }
        try await Self.expectEnforced(etcetera, path: path)
    }

    @Test("exec:COMMAND runs the command with the standard backend flags")
    func execBackend() async throws {
        let path = try Self.writeAuthFile()
        let command = "exec:\(TestPaths.executable("etcetera-auth-file")) --file \(path)"
        let etcetera = try await ServerProcess.etcetera(extraArguments: ["--auth-backend", command])
        defer { etcetera.stop() }
        try await Self.expectEnforced(etcetera, path: path)
    }

    static func expectEnforced(_ etcetera: ServerProcess, path: String) async throws {
        let endpoint = etcetera.endpoint
        let put = try await Etcdctl.run(["--user", "root:rootpw", "put", "/app/config", "v1"], endpoint: endpoint)
        #expect(put.stdout == "OK\n", "\(put.stderr)\n\(etcetera.log)")
        let get = try await Etcdctl.run(["--user", "alice:alicepw", "get", "/app/config"], endpoint: endpoint)
        #expect(get.stdout == "/app/config\nv1\n" && get.status == 0, "\(get.stderr)")
        let denied = try await Etcdctl.run(["--user", "alice:alicepw", "get", "secret"], endpoint: endpoint)
        #expect(denied.stderr.contains("Error: etcdserver: permission denied") && denied.status != 0, "\(denied.stderr)")
        let wrong = try await Etcdctl.run(["--user", "alice:nope", "get", "/app/config"], endpoint: endpoint)
        #expect(wrong.stderr.contains("authentication failed, invalid user ID or password"), "\(wrong.stderr)")
        let added = try await Etcdctl.run(["--user", "root:rootpw", "user", "add", "x:pw"], endpoint: endpoint)
        // etcdctl prints errors it does not know (this one is Etcetera's own) with their gRPC code.
        let readOnly = "Error: rpc error: code = FailedPrecondition desc = etcetera: auth backend is read-only (users and roles come from \(path))"
        #expect(added.stderr.contains(readOnly) && added.status != 0,
                "\(added.stdout)\(added.stderr)")
        let list = try await Etcdctl.run(["--user", "root:rootpw", "user", "list"], endpoint: endpoint)
        #expect(list.stdout == "alice\nroot\n", "\(list.stderr)")
    }
}
