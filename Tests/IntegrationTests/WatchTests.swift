import Foundation
import TestSupport
import Testing

/// The Watch API against real etcd: the same scripted session (past and future start revisions,
/// ranges, filters, previous values, client-chosen and duplicate ids, an empty range, progress
/// requests, cancels, a transaction's events in one response, compacted start revisions) must give
/// the same responses per watch id, header revisions included.
@Suite("Watch against real etcd", .serialized)
struct WatchDifferentialTests {
    @Test("a scripted watch session gives the responses real etcd gives")
    func scriptedSession() async throws {
        let program = try await GoProgram.build("watchcheck")
        let etcd = try await ServerProcess.etcd()
        defer { etcd.stop() }
        let etcetera = try await ServerProcess.etcetera()
        defer { etcetera.stop() }
        async let expected = GoProgram.run(program, [etcd.endpoint])
        async let actual = GoProgram.run(program, [etcetera.endpoint])
        let (fromEtcd, fromEtcetera) = try await (expected, actual)
        #expect(fromEtcd.status == 0, "\(fromEtcd.stderr)")
        #expect(fromEtcetera.status == 0, "\(fromEtcetera.stderr)")
        #expect(fromEtcd.stdout.contains("watch 7"), "the session ran: \(fromEtcd.stdout)")
        #expect(fromEtcetera.stdout == fromEtcd.stdout)
    }

    @Test("etcdctl watch prints the same events as against real etcd")
    func etcdctlWatch() async throws {
        let etcd = try await ServerProcess.etcd()
        defer { etcd.stop() }
        let etcetera = try await ServerProcess.etcetera()
        defer { etcetera.stop() }
        for server in [etcd, etcetera] {
            for (key, value) in [("foo", "1"), ("foo", "2"), ("fob", "x"), ("bar", "y"), ("foo", "3")] {
                _ = try await Etcdctl.run(["put", key, value], endpoint: server.endpoint)
            }
            _ = try await Etcdctl.run(["del", "fob"], endpoint: server.endpoint)
        }
        for arguments in [["watch", "foo", "--rev", "1"], ["watch", "--prefix", "fo", "--rev", "2", "--prev-kv"], ["watch", "bar", "--rev", "3"]] {
            let expected = try await Etcdctl.runFor(seconds: 1.5, arguments, endpoint: etcd.endpoint)
            let actual = try await Etcdctl.runFor(seconds: 1.5, arguments, endpoint: etcetera.endpoint)
            #expect(!expected.isEmpty)
            #expect(actual == expected, "etcdctl \(arguments.joined(separator: " "))")
        }
    }

    @Test("kill -9 of one of two watch processes: every watcher still gets every event exactly once, in order")
    func watchProcessFailover() async throws {
        let program = try await GoProgram.build("watchfailover")
        let etcetera = try await ServerProcess.etcetera(extraArguments: ["--watch-processes", "2"])
        defer { etcetera.stop() }
        let found = try await Command.run("/usr/bin/pgrep", ["-f", "\(etcetera.dataDirectory)/bus/watch-1.sock"])
        let victim = try #require(found.stdout.split(separator: "\n").first.map(String.init), "watch process 1 is running")
        let output = try await GoProgram.run(program, [etcetera.endpoint, "20", "1500", victim])
        #expect(output.status == 0, "\(output.stdout)\(output.stderr)")
        #expect(output.stdout.contains("20 watchers, 1500 puts, 0 failed"))
        #expect(etcetera.log.contains("moving watch session"), "sessions of the killed process moved")
    }
}
