import Foundation
import TestSupport
import Testing

/// Runs the same etcdctl session against a fresh real etcd and a fresh Etcetera: every command must
/// print the same thing (member ids, cluster ids and raft terms aside) and exit the same way.
@Suite("etcdctl against real etcd", .serialized, .timeLimit(.minutes(10)))
struct EtcdctlTests {
    /// (arguments, standard input)
    static let session: [([String], String?)] = [
        (["put", "foo", "bar"], nil),
        (["put", "foo1", "bar1"], nil),
        (["put", "foo2", "bar2"], nil),
        (["put", "fop", "x"], nil),
        (["put", "zoo", "z"], nil),
        (["get", "foo"], nil),
        (["get", "missing"], nil),
        (["get", "--prefix", "foo"], nil),
        (["get", "--prefix", "fo", "--sort-by", "VALUE", "--order", "DESCEND"], nil),
        (["get", "--prefix", "fo", "--sort-by", "MODIFY", "--order", "ASCEND", "--limit", "2"], nil),
        (["get", "--prefix", "fo", "--keys-only"], nil),
        (["get", "--prefix", "fo", "--count-only", "-w", "fields"], nil),
        (["get", "--from-key", "foo1"], nil),
        (["get", "foo", "fop"], nil),
        (["get", "--prefix", "foo", "--rev", "3"], nil),
        (["get", "--prefix", "foo", "--rev", "99"], nil),
        (["get", "foo", "-w", "json"], nil),
        (["get", "--prefix", "fo", "--limit", "1", "-w", "json"], nil),
        (["put", "foo", "baz", "--prev-kv"], nil),
        (["put", "foo", "--ignore-value"], nil),
        (["put", "nothere", "--ignore-value"], nil),
        (["del", "foo2", "--prev-kv"], nil),
        (["del", "--prefix", "foo", "--prev-kv"], nil),
        (["del", "nothing"], nil),
        (["put", "k", "v1"], nil),
        (["txn", "-i"], "value(\"k\") = \"v1\"\n\nput k v2\nget k\n\nput k failed\n\n"),
        (["txn", "-i"], "value(\"k\") = \"v1\"\n\nput k v3\n\nget k\n\n"),
        (["txn", "-i", "-w", "json"], "mod(\"k\") > \"0\"\nversion(\"k\") = \"2\"\n\ndel k\n\n\n"),
        (["get", "k"], nil),
        (["compaction", "4"], nil),
        (["get", "--prefix", "foo", "--rev", "3"], nil),
        (["compaction", "4"], nil),
        (["compaction", "--physical", "8"], nil),
        (["get", "", "--prefix", "-w", "json"], nil),
    ]

    @Test("an etcdctl session prints what real etcd prints")
    func session() async throws {
        let etcd = try await ServerProcess.etcd()
        defer { etcd.stop() }
        let etcetera = try await ServerProcess.etcetera()
        defer { etcetera.stop() }
        try await Self.expectSameOutput(Self.session, etcd: etcd, etcetera: etcetera)
    }

    /// Runs each command of `session` (arguments, standard input) on both servers in turn and expects
    /// the same stdout, the same error lines and the same exit status, once ids and each server's own
    /// endpoint are hidden.
    static func expectSameOutput(_ session: [([String], String?)], etcd: ServerProcess, etcetera: ServerProcess) async throws {
        func hidden(_ text: String, _ server: ServerProcess) -> String {
            normalize(text).replacingOccurrences(of: server.endpoint, with: "EP")
        }
        for (arguments, input) in session {
            let expected = try await Etcdctl.run(arguments, endpoint: etcd.clientURL, input: input)
            let actual = try await Etcdctl.run(arguments, endpoint: etcetera.clientURL, input: input)
            let command = "etcdctl " + arguments.joined(separator: " ")
            #expect(hidden(actual.stdout, etcetera) == hidden(expected.stdout, etcd), "\(command)")
            #expect(errorLines(hidden(actual.stderr, etcetera)) == errorLines(hidden(expected.stderr, etcd)), "\(command)")
            #expect(actual.status == expected.status, "\(command)")
        }
    }

    @Test("endpoint status and member list show one sane member")
    func memberAndStatus() async throws {
        let etcetera = try await ServerProcess.etcetera(extraArguments: ["--name", "node-a"])
        defer { etcetera.stop() }
        let members = try await Etcdctl.run(["member", "list"], endpoint: etcetera.endpoint)
        #expect(members.status == 0)
        #expect(members.stdout.contains(", started, node-a, "))
        #expect(members.stdout.contains("http://\(etcetera.endpoint)"))
        let put = try await Etcdctl.run(["put", "a", "1"], endpoint: etcetera.endpoint)
        #expect(put.stdout == "OK\n")
        let status = try await Etcdctl.run(["endpoint", "status", "-w", "json"], endpoint: etcetera.endpoint)
        #expect(status.status == 0)
        #expect(status.stdout.contains("\"version\":\"3.4"))
        #expect(status.stdout.contains("\"revision\":2"))
        #expect(status.stdout.contains("\"dbSize\":"), "a non-zero database size is reported")
    }

    /// etcdctl's own error lines; its client-side retry logs carry timestamps and random ids.
    static func errorLines(_ stderr: String) -> [Substring] {
        stderr.split(separator: "\n").filter { !$0.hasPrefix("{\"level\"") }
    }

    /// Hides the values that differ between any two members: ids and raft terms.
    static func normalize(_ output: String) -> String {
        var text = output
        for field in ["cluster_id", "member_id", "raft_term", "leader"] {
            text = text.replacingOccurrences(of: "\"\(field)\":[0-9]+", with: "\"\(field)\":0", options: .regularExpression)
            text = text.replacingOccurrences(of: "\"\(field.uppercased())\" : [0-9]+", with: "\"\(field)\" : 0", options: .regularExpression)
        }
        text = text.replacingOccurrences(of: "\"ClusterID\" : [0-9]+", with: "\"ClusterID\" : 0", options: .regularExpression)
        text = text.replacingOccurrences(of: "\"MemberID\" : [0-9]+", with: "\"MemberID\" : 0", options: .regularExpression)
        text = text.replacingOccurrences(of: "\"RaftTerm\" : [0-9]+", with: "\"RaftTerm\" : 0", options: .regularExpression)
        return text
    }
}
