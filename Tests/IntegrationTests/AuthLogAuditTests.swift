import EtceteraAPI
import Foundation
import GRPCCore
import TestSupport
import Testing

/// etcd logs tokens; Etcetera must not log a password, a password hash or a token at any level. An
/// Etcetera at `--log-level debug` goes through users, passwords, tokens and authenticated requests,
/// and then the output of every process it ran (the launcher passes its children's on) is searched.
@Suite("auth secrets stay out of the logs", .timeLimit(.minutes(10)))
struct AuthLogAuditTests {
    @Test("no password, bcrypt hash or token appears in any service's output at debug level")
    func noSecretsInLogs() async throws {
        let etcetera = try await ServerProcess.etcetera(extraArguments: ["--log-level", "debug"])
        defer { etcetera.stop() }
        let passwords = ["Root-pw-7f3a91", "Alice-pw-c0ffee", "Alice-new-pw-b4d5e6", "Bob-pw-1234abcd"]
        let endpoint = etcetera.endpoint
        let commands: [([String], String?)] = [
            (["user", "add", "root:\(passwords[0])"], nil),
            (["user", "add", "alice:\(passwords[1])"], nil),
            (["user", "add", "bob", "--interactive=false"], passwords[3] + "\n"),
            (["role", "add", "writer"], nil),
            (["role", "grant-permission", "writer", "readwrite", "k", "--prefix"], nil),
            (["user", "grant-role", "alice", "writer"], nil),
            (["auth", "enable"], nil),
            (["--user", "alice:\(passwords[1])", "put", "k1", "v"], nil),
            (["--user", "alice:\(passwords[1])", "get", "k1"], nil),
            (["--user", "alice:wrong-\(passwords[1])", "get", "k1"], nil),
            (["--user", "root:\(passwords[0])", "user", "passwd", "alice", "--interactive=false"], passwords[2] + "\n"),
            (["--user", "alice:\(passwords[2])", "watch", "k1", "--rev", "1"], nil),
        ]
        for (arguments, input) in commands {
            if arguments.contains("watch") {
                let printed = try await Etcdctl.runUntil(arguments, endpoint: endpoint) { $0.contains("k1") }
                #expect(printed.contains("k1"), "the watch as alice saw its key")
            } else {
                let output = try await Etcdctl.run(arguments, endpoint: endpoint, input: input)
                let refused = arguments.contains { $0.hasPrefix("alice:wrong-") }
                #expect((output.status == 0) != refused, "etcdctl \(arguments.first ?? "")…: \(output.stderr)")
            }
        }
        let tokens = try await withEtcdClient(port: etcetera.port) { client in
            var tokens: [String] = []
            for (name, password) in [("root", passwords[0]), ("alice", passwords[2])] {
                let token = try await client.auth.authenticate(.with { $0.name = name; $0.password = password }).token
                tokens.append(token)
                var metadata = Metadata()
                metadata.addString(token, forKey: "token")
                _ = try await client.kv.range(.with { $0.key = Data("k1".utf8) }, metadata: metadata)
                _ = try? await client.kv.range(.with { $0.key = Data("z".utf8) }, metadata: metadata)
                _ = try await client.auth.userGet(.with { $0.name = name }, metadata: metadata)
            }
            var stale = Metadata()
            stale.addString(tokens[1] + "x", forKey: "token")
            _ = try? await client.kv.range(.with { $0.key = Data("k1".utf8) }, metadata: stale)
            _ = try await client.auth.userChangePassword(.with { $0.name = "bob"; $0.password = passwords[3] }, metadata: {
                var metadata = Metadata()
                metadata.addString(tokens[0], forKey: "token")
                return metadata
            }())
            return tokens
        }
        etcetera.stop()
        let log = etcetera.log
        #expect(log.contains("authenticated a user") && log.contains("alice"), "the services logged at debug level, names included")
        #expect(tokens.count == 2 && tokens.allSatisfy { !$0.isEmpty })
        let tokenSecrets = tokens.flatMap { [$0, String($0.prefix { $0 != "." })] }
        for secret in passwords + tokenSecrets {
            #expect(!log.contains(secret), "a secret of \(secret.count) characters is in the log")
        }
        #expect(log.firstMatch(of: /\$2[aby]\$\d\d\$/) == nil, "a bcrypt hash is in the log")
    }
}
