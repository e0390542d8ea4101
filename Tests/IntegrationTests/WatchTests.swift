import Foundation
import TestSupport
import Testing

/// The Watch API against real etcd: the same scripted session (past and future start revisions,
/// ranges, filters, previous values, client-chosen and duplicate ids, an empty range, progress
/// requests, cancels, a transaction's events in one response, compacted start revisions) must give
/// the same responses per watch id, header revisions included.
@Suite("Watch against real etcd", .serialized, .timeLimit(.minutes(10)))
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
        // Each watch runs until it printed its last event (named here) and what etcd printed.
        for (arguments, last) in [
            (["watch", "foo", "--rev", "1"], "foo\n3\n"), (["watch", "--prefix", "fo", "--rev", "2", "--prev-kv"], "DELETE\nfob\n"),
            (["watch", "bar", "--rev", "3"], "bar\ny\n"),
        ] {
            let expected = try await Etcdctl.runUntil(arguments, endpoint: etcd.endpoint) { $0.contains(last) }
            let actual = try await Etcdctl.runUntil(arguments, endpoint: etcetera.endpoint) { $0.count >= expected.count }
            #expect(expected.contains(last))
            #expect(actual == expected, "etcdctl \(arguments.joined(separator: " "))")
        }
    }

    @Test("interactive etcdctl watch -i (history, prefix with previous values, compacted cancel, progress, bad lines) matches real etcd")
    func etcdctlInteractiveWatch() async throws {
        let etcd = try await ServerProcess.etcd()
        defer { etcd.stop() }
        let etcetera = try await ServerProcess.etcetera()
        defer { etcetera.stop() }
        var transcripts: [Command.Output] = []
        for server in [etcd, etcetera] {
            for (key, value) in [("foo", "1"), ("foo", "2"), ("fob", "x"), ("bar", "y"), ("foo", "3")] {
                _ = try await Etcdctl.run(["put", key, value], endpoint: server.endpoint)
            }
            _ = try await Etcdctl.run(["del", "fob"], endpoint: server.endpoint)
            _ = try await Etcdctl.run(["compaction", "5"], endpoint: server.endpoint)
            // One command at a time, so that watchers print in a fixed order; stdin then closes,
            // which ends etcdctl with its EOF error.
            let script = """
                { echo 'watch foo --rev 5'; sleep 0.5; echo 'watch --prefix fo --rev 6 --prev-kv'; sleep 0.5
                  echo 'watch bar --rev 3'; sleep 0.5; echo 'watch zed'; sleep 0.5
                  etcdctl --endpoints \(server.endpoint) put zed 1 >/dev/null; sleep 0.5
                  echo progress; sleep 0.5; echo 'get foo'; sleep 0.3; echo watch; sleep 0.3
                  echo 'watch a b --prefix'; sleep 1; } | timeout 10 etcdctl --endpoints \(server.endpoint) watch -i
                """
            transcripts.append(try await Command.run("/bin/sh", ["-c", script], environment: ["ETCDCTL_API": "3"], removingEnvironment: ["ETCDCTL_ENDPOINTS"]))
        }
        let (expected, actual) = (transcripts[0], transcripts[1])
        #expect(expected.stdout.contains("progress notify: 8"), "the session ran: \(expected.stdout)")
        #expect(expected.stderr.contains("required revision has been compacted"))
        #expect(actual.stdout == expected.stdout)
        #expect(actual.stderr == expected.stderr)
        #expect(actual.status == expected.status)
    }

    /// Debian's etcdctl 3.4 has no `--progress-notify`; the Go client's `WithProgressNotify` is what
    /// etcdctl's later flag uses.
    @Test("a progress_notify watcher gets periodic notifications at the interval set with etcd's flag")
    func progressNotify() async throws {
        let program = try await GoProgram.build("progressnotify")
        let interval = ["--experimental-watch-progress-notify-interval", "400ms"]
        let etcd = try await ServerProcess.etcd(extraArguments: interval)
        defer { etcd.stop() }
        let etcetera = try await ServerProcess.etcetera(extraArguments: interval)
        defer { etcetera.stop() }
        var notifications: [[Substring]] = []
        for server in [etcd, etcetera] {
            _ = try await Etcdctl.run(["put", "foo", "1"], endpoint: server.endpoint)
            let output = try await GoProgram.run(program, [server.endpoint, "foo", "2.2"])
            #expect(output.status == 0, "\(output.stderr)")
            notifications.append(output.stdout.split(separator: "\n"))
        }
        let (expected, actual) = (notifications[0], notifications[1])
        #expect(Set(expected) == ["progress notify: 2"], "\(expected)")
        #expect(Set(actual) == Set(expected), "\(actual)")
        // Every 400 ms over 2.2 s: at most six ticks whenever the first falls, and a busy machine can
        // only delay ticks (it once left etcd itself at four), so the count is bounded above and only
        // loosely below, and not compared with etcd's.
        #expect((2...6).contains(actual.count), "etcd \(expected.count), Etcetera \(actual.count)")
    }

    /// Streams go round the processes the gateway sees alive; until both are, every stream could land on
    /// one of them and killing the other would move nothing (a failed run once showed exactly that).
    private func expectBothWatchProcessesLive(_ etcetera: ServerProcess) async {
        #expect(
            await eventually { !Log.lines(of: etcetera.log, containing: ["watch process live", "live=2"]).isEmpty },
            "the gateway counts both watch processes as live: \(etcetera.log)")
    }

    @Test("kill -9 of one of two watch processes: every watcher still gets every event exactly once, in order")
    func watchProcessFailover() async throws {
        let program = try await GoProgram.build("watchfailover")
        let etcetera = try await ServerProcess.etcetera(extraArguments: ["--watch-processes", "2"])
        defer { etcetera.stop() }
        await expectBothWatchProcessesLive(etcetera)
        let found = try await Command.run("/usr/bin/pgrep", ["-f", "\(etcetera.dataDirectory)/bus/watch-1.sock"])
        let victim = try #require(found.stdout.split(separator: "\n").first.map(String.init), "watch process 1 is running")
        let output = try await GoProgram.run(program, [etcetera.endpoint, "20", "1500", victim])
        expectEveryWatcherSawEveryEvent(output, streams: 20, puts: 1500)
        #expect(etcetera.log.contains("moving watch session"), "sessions of the killed process moved")
    }

    @Test("a standalone watch process joined over TCP (CURVE keys) serves streams and takes over those of a killed local one")
    func standaloneWatchProcessOverTCP() async throws {
        let program = try await GoProgram.build("watchfailover")
        let busPort = FreePort.pick(consecutive: 2)
        let watchPort = FreePort.pick()
        let directory = TestPaths.temporaryDirectory(prefix: "remote-watch")
        let keys = directory + "/bus-keys"
        let made = try await Command.run(TestPaths.executable("etcetera"), ["bus-keys", keys])
        #expect(made.status == 0, "\(made.stderr)")
        let remote = try LoggedProcess(
            executable: TestPaths.executable("etcetera-watch"),
            arguments: [
                "--bus", "tcp://127.0.0.1:\(busPort)", "--listen", "tcp://127.0.0.1:\(watchPort)", "--bus-curve-keys", keys,
            ],
            logPath: directory + "/watch.log")
        defer { remote.stop() }
        let etcetera = try await ServerProcess.etcetera(extraArguments: [
            "--bus-listen", "tcp://127.0.0.1:\(busPort)", "--external-watch-endpoints", "tcp://127.0.0.1:\(watchPort)",
            "--bus-curve-keys", keys,
        ])
        defer { etcetera.stop() }
        await expectBothWatchProcessesLive(etcetera)
        let found = try await Command.run("/usr/bin/pgrep", ["-f", "\(etcetera.dataDirectory)/bus/watch-0.sock"])
        let victim = try #require(found.stdout.split(separator: "\n").first.map(String.init), "local watch process is running")
        let output = try await GoProgram.run(program, [etcetera.endpoint, "20", "1500", victim])
        expectEveryWatcherSawEveryEvent(output, streams: 20, puts: 1500)
        #expect(etcetera.log.contains("moving watch session"), "sessions of the killed process moved")
        #expect(remote.log.contains("watch service serving"), "the standalone process reached the kv store: \(remote.log)")
    }
}
