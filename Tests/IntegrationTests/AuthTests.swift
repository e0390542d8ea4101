import Foundation
import TestSupport
import Testing

/// etcdctl's user, role and auth commands, and KV calls as different users, against a fresh real etcd
/// and a fresh Etcetera: every command must print the same (ids aside) and exit the same way.
@Suite("etcdctl auth against real etcd", .serialized, .timeLimit(.minutes(10)))
struct AuthTests {
    /// (arguments, standard input)
    static let session: [([String], String?)] = [
        (["user", "add", "root:rootpw"], nil),
        (["user", "add", "alice:alicepw"], nil),
        (["user", "add", "alice:again"], nil),
        (["role", "add", "reader"], nil),
        (["role", "grant-permission", "reader", "read", "foo", "--prefix"], nil),
        (["role", "grant-permission", "reader", "readwrite", "bar"], nil),
        (["role", "grant-permission", "reader", "write", "w1", "w5"], nil),
        (["role", "grant-permission", "nobody", "read", "x"], nil),
        (["user", "grant-role", "alice", "reader"], nil),
        (["user", "grant-role", "alice", "ghost"], nil),
        (["user", "get", "alice"], nil),
        (["user", "get", "alice", "-w", "json"], nil),
        (["role", "get", "reader"], nil),
        (["role", "get", "reader", "-w", "json"], nil),
        (["user", "list"], nil),
        (["role", "list", "-w", "json"], nil),
        (["auth", "enable"], nil),
        (["put", "foo1", "x"], nil),
        (["--user", "root:rootpw", "put", "foo1", "v1"], nil),
        (["--user", "alice:alicepw", "get", "foo1"], nil),
        (["--user", "alice:alicepw", "get", "foo", "--prefix"], nil),
        (["--user", "alice:alicepw", "get", "fo", "--prefix"], nil),
        (["--user", "alice:alicepw", "put", "foo1", "nope"], nil),
        (["--user", "alice:alicepw", "put", "bar", "ok"], nil),
        (["--user", "alice:alicepw", "put", "bar", "again", "--prev-kv"], nil),
        (["--user", "alice:alicepw", "put", "w3", "ok"], nil),
        (["--user", "alice:alicepw", "del", "w1", "w5"], nil),
        (["--user", "alice:alicepw", "del", "w1", "w6"], nil),
        (["--user", "alice:alicepw", "get", "zzz"], nil),
        (["--user", "alice:alicepw", "watch", "zzz"], nil),
        (["--user", "alice:wrong", "get", "foo1"], nil),
        (["--user", "bob:pw", "get", "foo1"], nil),
        (["--user", "alice:alicepw", "user", "list"], nil),
        (["--user", "alice:alicepw", "user", "get", "alice"], nil),
        (["--user", "alice:alicepw", "user", "get", "root"], nil),
        (["--user", "alice:alicepw", "role", "get", "reader"], nil),
        (["--user", "alice:alicepw", "txn"], "value(\"foo1\") = \"v1\"\n\nget foo1\n\n\n"),
        (["--user", "alice:alicepw", "txn"], "value(\"foo1\") = \"v1\"\n\nget foo1\n\nput zzz 1\n\n"),
        (["--user", "root:rootpw", "role", "revoke-permission", "reader", "bar"], nil),
        (["--user", "alice:alicepw", "put", "bar", "ok2"], nil),
        (["--user", "alice:alicepw", "compaction", "2"], nil),
        (["--user", "alice:alicepw", "defrag"], nil),
        (["--user", "alice:alicepw", "endpoint", "hashkv"], nil),
        (["--user", "alice:alicepw", "alarm", "list"], nil),
        (["--user", "root:rootpw", "user", "revoke-role", "root", "root"], nil),
        (["--user", "root:rootpw", "user", "delete", "root"], nil),
        (["--user", "root:rootpw", "user", "passwd", "alice", "--interactive=false"], "newpw\n"),
        (["--user", "alice:alicepw", "get", "foo1"], nil),
        (["--user", "alice:newpw", "get", "foo1"], nil),
        (["--user", "root:rootpw", "user", "delete", "alice"], nil),
        (["--user", "alice:newpw", "get", "foo1"], nil),
        (["--user", "root:rootpw", "role", "delete", "reader"], nil),
        (["--user", "root:rootpw", "auth", "disable"], nil),
        (["get", "foo1"], nil),
        (["auth", "disable"], nil),
        (["--user", "root:rootpw", "get", "foo1"], nil),
    ]

    @Test("a user, role and auth session prints what real etcd prints")
    func session() async throws {
        let etcd = try await ServerProcess.etcd()
        defer { etcd.stop() }
        let etcetera = try await ServerProcess.etcetera()
        defer { etcetera.stop() }
        try await EtcdctlTests.expectSameOutput(Self.session, etcd: etcd, etcetera: etcetera)
    }
}
