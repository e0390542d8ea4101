import EtceteraAPI
import Foundation
import TestSupport
import Testing

/// The Lease API against real etcd, through etcdctl: the same session must print the same lines
/// (lease IDs differ between servers and are replaced by `ID`).
@Suite("Lease against real etcd", .serialized, .timeLimit(.minutes(10)))
struct LeaseDifferentialTests {
    @Test("etcdctl lease grant, put --lease, timetolive --keys, keep-alive, list, revoke and the errors print what etcd prints")
    func etcdctlLeaseSession() async throws {
        let etcd = try await ServerProcess.etcd()
        defer { etcd.stop() }
        let etcetera = try await ServerProcess.etcetera()
        defer { etcetera.stop() }
        var transcripts: [String] = []
        for server in [etcd, etcetera] {
            var lines: [String] = []
            func run(_ arguments: [String]) async throws -> String {
                let output = try await Etcdctl.run(arguments, endpoint: server.endpoint)
                let errors = output.stderr.split(separator: "\n").filter { $0.hasPrefix("Error") }
                return output.stdout + errors.joined(separator: "\n") + " (exit \(output.status))"
            }
            lines.append(try await run(["lease", "grant", "30"]))
            // Taken before the grant is sent, so that `askedBy - grantedAt` is never less than the time
            // the server counted, however slowly the processes run.
            let grantedAt = ContinuousClock.now
            let granted = try await run(["lease", "grant", "60", "-w", "json"])
            var askedBy = grantedAt
            let id = try #require(granted.firstMatch(of: /"ID":(\d+)/).map { String(UInt64($0.1)!, radix: 16) })
            for arguments in [
                ["put", "--lease=\(id)", "k1", "v1"], ["put", "--lease=\(id)", "k2", "v2"], ["put", "k2", "plain"],
                ["lease", "timetolive", id, "--keys"], ["lease", "keep-alive", "--once", id], ["lease", "list"],
                ["lease", "revoke", id], ["get", "k", "--prefix"], ["lease", "timetolive", id], ["lease", "revoke", id],
                ["lease", "keep-alive", "--once", id], ["put", "--lease=1234", "k3", "v"], ["lease", "grant", "10000000000"],
                ["lease", "grant", "1", "-w", "fields"],
            ] {
                lines.append(try await run(arguments))
                if arguments == ["lease", "timetolive", id, "--keys"] { askedBy = .now }
            }
            // etcdctl prints IDs as %016x; `-w fields` prints them in decimal.
            let padded = String(repeating: "0", count: max(0, 16 - id.count)) + id
            let transcript = lines.joined(separator: "\n")
            // Seconds left depend on how long the session took (parallel suites can slow it down a lot);
            // each server must report all but the seconds that really passed, give or take one.
            let remaining = transcript.firstMatch(of: /remaining\((\d+)s\)/).flatMap { Int($0.1) } ?? 0
            let elapsed = Int((askedBy - grantedAt).components.seconds)
            #expect((59 - elapsed...60).contains(remaining), "\(elapsed) s elapsed: \(transcript)")
            transcripts.append(transcript
                .replacing(/remaining\(\d+s\)/, with: "remaining(Ns)")
                .replacing(/"(ClusterID|MemberID|Revision|RaftTerm|ID)" : \d+/) { "\"\($0.1)\" : N" }
                .replacing(padded, with: "ID").replacing(/[0-9a-f]{16}/, with: "ID"))
        }
        #expect(transcripts[0].contains("attached keys([k1])"), "the session ran: \(transcripts[0])")
        #expect(transcripts[1] == transcripts[0])
    }

    @Test("lease answers carry the store's current revision in their header, a keep-alive right after a put included, as etcd's")
    func headerRevisions() async throws {
        let etcd = try await ServerProcess.etcd()
        defer { etcd.stop() }
        let etcetera = try await ServerProcess.etcetera()
        defer { etcetera.stop() }
        var transcripts: [[String]] = []
        for server in [etcd, etcetera] {
            let transcript = try await withEtcdClient(port: server.port) { client in
                let lease = try await client.lease.leaseGrant(.with { $0.ttl = 60 }).id
                var lines: [String] = []
                for round in 1...3 {
                    let written = try await client.kv.put(.with { $0.key = Data("k\(round)".utf8); $0.value = Data("v".utf8) }).header.revision
                    func relative(_ revision: Int64) -> String { revision == written ? "current" : "\(revision - written)" }
                    let keptAlive = try await client.lease.leaseKeepAlive(requestProducer: { writer in
                        try await writer.write(.with { $0.id = lease })
                    }, onResponse: { response in
                        var first: Etcdserverpb_LeaseKeepAliveResponse?
                        for try await message in response.messages { first = message; break }
                        return first?.header.revision ?? -1
                    })
                    let timeToLive = try await client.lease.leaseTimeToLive(.with { $0.id = lease }).header.revision
                    let leases = try await client.lease.leaseLeases(.init()).header.revision
                    lines.append("round \(round): keep-alive \(relative(keptAlive)), time-to-live \(relative(timeToLive)), leases \(relative(leases))")
                }
                return lines
            }
            transcripts.append(transcript)
        }
        #expect(transcripts[0] == (1...3).map { "round \($0): keep-alive current, time-to-live current, leases current" })
        #expect(transcripts[1] == transcripts[0])
    }

    @Test("a lease that is not kept alive expires: its keys go in one revision, seen by a watcher in one response")
    func expiryDeletesKeysInOneRevision() async throws {
        let etcetera = try await ServerProcess.etcetera()
        defer { etcetera.stop() }
        // The three keys are attached in one txn right after the grant; on a machine so busy that the
        // 2-second lease expired before the txn, it is tried again with a new lease.
        let attachedAt = try await withEtcdClient(port: etcetera.port) { client in
            for _ in 0..<5 {
                let id = try await client.lease.leaseGrant(.with { $0.ttl = 2 }).id
                let puts = ["x1", "x2", "x3"].map { key in
                    Etcdserverpb_RequestOp.with { $0.requestPut = .with { $0.key = Data(key.utf8); $0.value = Data("v".utf8); $0.lease = id } }
                }
                if let response = try? await client.kv.txn(.with { $0.success = puts }) { return response.header.revision }
            }
            throw TestFailure("no lease lived long enough for one txn")
        }
        let watched = try await Etcdctl.runUntil(
            ["watch", "--prefix", "x", "--rev", String(attachedAt + 1), "-w", "json"], endpoint: etcetera.endpoint
        ) {
            $0.contains("\"Events\"")
        }
        let responses = watched.split(separator: "\n").filter { $0.contains("\"Events\"") }
        #expect(responses.count == 1, "one response: \(watched)")
        #expect(responses.first?.components(separatedBy: "\"type\":1").count == 4, "three DELETE events: \(watched)")
        let remaining = try await Etcdctl.run(["get", "x", "--prefix", "--keys-only"], endpoint: etcetera.endpoint)
        #expect(remaining.stdout.isEmpty)
    }

    @Test("etcdctl lock: mutual exclusion, then the lock passes on when its killed holder's lease expires")
    func lockHandover() async throws {
        let etcetera = try await ServerProcess.etcetera()
        defer { etcetera.stop() }
        let directory = TestPaths.temporaryDirectory(prefix: "lock")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/etcdctl")
        holder.arguments = ["--endpoints", etcetera.endpoint, "lock", "--ttl=2", "the-lock", "--", "/bin/sh", "-c", "echo $$ > \(directory)/a; exec sleep 600"]
        holder.environment = ["ETCDCTL_API": "3"]
        try holder.runAlone()
        defer { holder.stop() }
        #expect(await eventually { FileManager.default.fileExists(atPath: "\(directory)/a") }, "the first holder got the lock")
        // While the holder lives, a competitor waits.
        let waiting = try await Etcdctl.runFor(
            seconds: 2, ["lock", "--ttl=2", "the-lock", "--", "/bin/echo", "second holder"], endpoint: etcetera.endpoint)
        #expect(!waiting.contains("second holder"))
        kill(holder.processIdentifier, SIGKILL)
        // The holder's command outlives it; Foundation counts the holder as running until it ends.
        if let command = try? String(contentsOfFile: "\(directory)/a", encoding: .utf8), let pid = Int32(command.trimmingCharacters(in: .whitespacesAndNewlines)) {
            kill(pid, SIGKILL)
        }
        let next = try await Etcdctl.runUntil(["lock", "--ttl=2", "the-lock", "--", "/bin/echo", "second holder"], endpoint: etcetera.endpoint) {
            $0.contains("second holder")
        }
        #expect(next.contains("second holder"), "handed over once the killed holder's lease expired")
    }

    @Test("kill -9 of the lease service, then of the kv store, while 1,000 leases are kept alive: none expires, an expired one stays gone",
          arguments: ["member/lease", "member/kv"])
    func crashWhileKeptAlive(service: String) async throws {
        let program = try await GoProgram.build("leasecrash")
        let etcetera = try await ServerProcess.etcetera()
        defer { etcetera.stop() }
        let found = try await Command.run("/usr/bin/pgrep", ["-f", "\(etcetera.dataDirectory)/\(service) "])
        let victim = try #require(found.stdout.split(separator: "\n").first.map(String.init), "\(service) is running")
        let output = try await GoProgram.run(program, [etcetera.endpoint, "1000", victim])
        #expect(output.status == 0, "\(output.stdout)\(output.stderr)")
        #expect(output.stdout.contains("1000 leases kept alive through the crash, the expired one stayed gone"))
    }

    /// NIO closes a connection after 200 stream resets in 30 s unless told otherwise; etcd has no such
    /// limit, and etcd's benchmark (like clientv3's KeepAliveOnce) resets a stream per keep-alive.
    @Test("500 keep-alives on one connection, each on a stream reset after its answer, all succeed")
    func keepAliveOnceStreams() async throws {
        let etcetera = try await ServerProcess.etcetera()
        defer { etcetera.stop() }
        let output = try await Command.run(TestPaths.executable("etcetera-bench"), [
            "--endpoints", etcetera.endpoint, "--clients", "1", "--request-timeout", "2", "--json",
            "lease-keepalive", "--total", "500",
        ])
        #expect(output.status == 0, "\(output.stderr)")
        #expect(output.stdout.contains("\"succeeded\":500,\"failed\":0"), "\(output.stdout)")
    }

    @Test("etcdctl elect: one leader at a time; leadership passes to the next candidate when the leader resigns")
    func electionHandover() async throws {
        let etcetera = try await ServerProcess.etcetera()
        defer { etcetera.stop() }
        let directory = TestPaths.temporaryDirectory(prefix: "elect")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        func candidate(_ name: String) throws -> Process {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/etcdctl")
            process.arguments = ["--endpoints", etcetera.endpoint, "elect", "the-election", name]
            process.environment = ["ETCDCTL_API": "3"]
            let output = FileManager.default.createFile(atPath: "\(directory)/\(name)", contents: nil)
            #expect(output)
            try process.runAlone {
                process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: "\(directory)/\(name)"))
            }
            return process
        }
        func printed(_ name: String) -> String { (try? String(contentsOfFile: "\(directory)/\(name)", encoding: .utf8)) ?? "" }
        let alice = try candidate("alice")
        defer { alice.stop() }
        #expect(await eventually { printed("alice").contains("alice") }, "alice leads")
        let bob = try candidate("bob")
        defer { bob.stop() }
        try await Task.sleep(for: .seconds(1))
        #expect(printed("bob").isEmpty, "bob waits while alice leads")
        let observed = try await Etcdctl.runUntil(["elect", "--listen", "the-election"], endpoint: etcetera.endpoint) { $0.contains("alice") }
        #expect(observed.contains("alice") && !observed.contains("bob"), "an observer sees alice: \(observed)")
        alice.interrupt()  // etcdctl resigns on SIGINT
        #expect(await eventually { printed("bob").contains("bob") }, "bob leads once alice resigned")
    }
}
