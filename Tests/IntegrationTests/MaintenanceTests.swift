import EtceteraAPI
import Foundation
import TestSupport
import Testing

/// etcdctl's maintenance and cluster commands against a fresh real etcd and a fresh Etcetera with the
/// same name and peer URL: every command must print the same thing apart from what differs between
/// any two members (ids, database sizes, raft indexes, timings).
@Suite("etcdctl maintenance and cluster commands against real etcd", .serialized, .timeLimit(.minutes(10)))
struct MaintenanceTests {
    /// A pair of servers started alike: etcd with its peer URL chosen here, Etcetera advertising it.
    private static func startBoth(_ extraArguments: [String] = []) async throws -> (etcd: ServerProcess, etcetera: ServerProcess) {
        let peer = "http://127.0.0.1:\(FreePort.pick())"
        let etcd = try await ServerProcess.etcd(extraArguments: [
            "--name", "m1", "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", "m1=\(peer)",
        ] + extraArguments)
        do {
            let etcetera = try await ServerProcess.etcetera(extraArguments: ["--name", "m1", "--initial-advertise-peer-urls", peer] + extraArguments)
            return (etcd, etcetera)
        } catch {
            etcd.stop()
            throw error
        }
    }

    /// The member id in hex, as etcdctl's member commands take it.
    private static func memberID(_ server: ServerProcess) async throws -> String {
        let status = try await Etcdctl.run(["endpoint", "status", "-w", "json"], endpoint: server.endpoint)
        guard let id = status.stdout.firstMatch(of: /"member_id":(\d+)/).flatMap({ UInt64($0.1) }) else {
            throw TestFailure("no member id in \(status.stdout)\(status.stderr)")
        }
        return String(id, radix: 16)
    }

    /// Runs `arguments` (with `{ID}` standing for the member id) on both servers and compares.
    private static func compare(_ arguments: [String], _ servers: (etcd: ServerProcess, etcetera: ServerProcess), input: String? = nil) async throws {
        let expected = try await run(arguments, on: servers.etcd, input: input)
        let actual = try await run(arguments, on: servers.etcetera, input: input)
        let command = "etcdctl " + arguments.joined(separator: " ")
        #expect(actual.stdout == expected.stdout, "\(command)")
        #expect(actual.stderr == expected.stderr, "\(command)")
        #expect(actual.status == expected.status, "\(command)")
    }

    private static func run(_ arguments: [String], on server: ServerProcess, input: String? = nil) async throws -> (stdout: String, stderr: String, status: Int32) {
        let id = try await memberID(server)
        let output = try await Etcdctl.run(arguments.map { $0.replacingOccurrences(of: "{ID}", with: id) }, endpoint: server.endpoint, input: input)
        return (normalize(output.stdout, server: server, id: id), normalize(errorLines(output.stderr), server: server, id: id), output.status)
    }

    private static func errorLines(_ stderr: String) -> String {
        stderr.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.hasPrefix("{\"level\"") }.joined(separator: "\n")
    }

    /// Hides what differs between two members: the endpoint, ids, sizes, raft counters and timings.
    static func normalize(_ text: String, server: ServerProcess, id: String) -> String {
        var text = text.replacingOccurrences(of: server.endpoint, with: "EP").replacingOccurrences(of: id, with: "ID")
        let numericFields = ["cluster_id", "member_id", "leader", "dbSize", "dbSizeInUse", "raftIndex", "raftAppliedIndex", "ID", "memberID"]
        for field in numericFields {
            text = text.replacingOccurrences(of: "\"\(field)\":[0-9]+", with: "\"\(field)\":N", options: .regularExpression)
        }
        for field in ["ClusterID", "MemberID", "ID"] {
            text = text.replacingOccurrences(of: "\"\(field)\" : [0-9]+", with: "\"\(field)\" : N", options: .regularExpression)
        }
        text = text.replacingOccurrences(of: "memberID:[0-9]+ ", with: "memberID:N ", options: .regularExpression)
        text = text.replacingOccurrences(of: "\"took\":\"[^\"]+\"", with: "\"took\":\"T\"", options: .regularExpression)
        text = text.replacingOccurrences(of: "lease [0-9a-f]+ (granted|keepalived)", with: "lease L $1", options: .regularExpression)
        text = text.replacingOccurrences(of: "took = [0-9.]+[µmn]?s", with: "took = T", options: .regularExpression)
        text = text.replacingOccurrences(of: "in cluster [0-9a-f]+", with: "in cluster C", options: .regularExpression)
        // endpoint status: ..., version, size, is leader, is learner, term, index, applied index, errors
        text = text.replacingOccurrences(
            of: "EP, ID, ([^,]+), [0-9.]+ [kMG]?B, (true|false), (true|false), [0-9]+, [0-9]+, [0-9]+, ",
            with: "EP, ID, $1, SIZE, $2, $3, T, I, A, ", options: .regularExpression)
        return text
    }

    @Test("endpoint, hashkv, alarm, defrag, member, move-leader and snapshot print what etcd prints")
    func session() async throws {
        let servers = try await Self.startBoth()
        defer { servers.etcd.stop(); servers.etcetera.stop() }
        let directory = TestPaths.temporaryDirectory(prefix: "maintenance")
        try FileManager.default.createDirectory(atPath: directory + "/etcd", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: directory + "/etcetera", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // Same history on both, so HashKV must give the same hash.
        for arguments in [["put", "foo", "bar"], ["put", "foo", "bar2"], ["put", "k2", "v2"], ["del", "k2"], ["put", "k3", "v3"]] {
            try await Self.compare(arguments, servers)
        }
        let session: [[String]] = [
            ["endpoint", "status"],
            ["endpoint", "status", "-w", "json"],
            ["endpoint", "health"],
            ["endpoint", "health", "-w", "json"],
            ["endpoint", "hashkv"],
            ["endpoint", "hashkv", "-w", "json"],
            ["endpoint", "hashkv", "--rev", "3"],
            ["endpoint", "hashkv", "--rev", "99"],
            ["compaction", "3"],
            ["endpoint", "hashkv", "-w", "json"],
            ["endpoint", "hashkv", "--rev", "2"],
            ["alarm", "list"],
            ["alarm", "list", "-w", "json"],
            ["alarm", "disarm"],
            ["defrag"],
            ["member", "list"],
            ["member", "list", "-w", "json"],
            ["move-leader", "{ID}"],
            ["move-leader", "1234abcd"],
            ["member", "remove", "1234abcd"],
            ["member", "remove", "{ID}"],
            ["member", "promote", "{ID}"],
            ["member", "promote", "1234abcd"],
            ["member", "update", "1234abcd", "--peer-urls=http://127.0.0.1:1"],
            ["member", "list", "-w", "fields"],
        ]
        for arguments in session {
            try await Self.compare(arguments, servers)
        }
        let etcdSave = try await Etcdctl.run(["snapshot", "save", directory + "/etcd/s.db"], endpoint: servers.etcd.endpoint)
        let save = try await Etcdctl.run(["snapshot", "save", directory + "/etcetera/s.db"], endpoint: servers.etcetera.endpoint)
        #expect(etcdSave.stdout == "Snapshot saved at \(directory)/etcd/s.db\n")
        #expect(save.stdout == "Snapshot saved at \(directory)/etcetera/s.db\n", "\(save.stderr)")
        #expect(save.status == 0)
    }

    @Test("with --quota-backend-bytes 53248 writes hit NOSPACE as in etcd, and compact, defrag and disarm restore them")
    func noSpaceWorkflow() async throws {
        let servers = try await Self.startBoth(["--quota-backend-bytes", "53248"])
        defer { servers.etcd.stop(); servers.etcetera.stop() }
        let value = String(repeating: "x", count: 1024)
        let lease = (etcd: try await Etcdctl.grantLease(ttl: 600, endpoint: servers.etcd.endpoint),
                     etcetera: try await Etcdctl.grantLease(ttl: 600, endpoint: servers.etcetera.endpoint))
        var failures: [String] = []
        for server in [servers.etcd, servers.etcetera] {
            var written = 0
            var attempts = 0
            while written < 200, attempts < 400 {
                attempts += 1
                let put = try await Etcdctl.run(["put", "key\(written)", value], endpoint: server.endpoint)
                if put.status != 0 {
                    // A busy machine can make a put time out; only the quota's refusal ends the writing.
                    guard put.stderr.contains("database space exceeded") else { continue }
                    failures.append(Self.errorLines(put.stderr))
                    break
                }
                written += 1
            }
            // The refused write was not applied.
            #expect(try await Etcdctl.run(["get", "key\(written)"], endpoint: server.endpoint).stdout == "")
        }
        #expect(failures == ["Error: etcdserver: mvcc: database space exceeded\n", "Error: etcdserver: mvcc: database space exceeded\n"])

        // Under the alarm: reads, deletes, delete-only txns, lease keep-alive and compaction work;
        // puts, txns with a put in either branch, and lease grants do not.
        for arguments in [
            ["alarm", "list"],
            ["endpoint", "status"],
            ["get", "key1", "--print-value-only"],
            ["put", "another", "v"],
            ["del", "key1"],
            ["lease", "grant", "100"],
            ["lease", "keep-alive", "--once", "{LEASE}"],
        ] {
            let expected = try await Self.run(arguments.map { $0 == "{LEASE}" ? lease.etcd : $0 }, on: servers.etcd)
            let actual = try await Self.run(arguments.map { $0 == "{LEASE}" ? lease.etcetera : $0 }, on: servers.etcetera)
            #expect(actual.stdout == expected.stdout, "\(arguments)")
            #expect(actual.stderr == expected.stderr, "\(arguments)")
            #expect(actual.status == expected.status, "\(arguments)")
        }
        try await Self.compare(["txn"], servers, input: "value(\"key2\") = \"nope\"\n\nput key2 x\n\ndel key3\n\n")
        try await Self.compare(["txn"], servers, input: "value(\"key2\") = \"nope\"\n\ndel key2\n\ndel key3\n\n")

        // etcd's recovery: free space, compact, defragment, disarm.
        for server in [servers.etcd, servers.etcetera] {
            #expect(try await Etcdctl.run(["del", "key", "--prefix"], endpoint: server.endpoint).status == 0)
            let revision = try await Etcdctl.run(["endpoint", "status", "-w", "json"], endpoint: server.endpoint)
                .stdout.firstMatch(of: /"revision":(\d+)/).map { String($0.1) } ?? "0"
            #expect(try await Etcdctl.run(["compaction", revision], endpoint: server.endpoint).status == 0)
        }
        for arguments in [["defrag"], ["alarm", "disarm"], ["alarm", "list"], ["put", "after", "recovery"], ["lease", "grant", "100"]] {
            try await Self.compare(arguments, servers)
        }
    }

    @Test("alarms are kept per member id, 0 included, as etcd keeps them: python-etcd3's create_alarm, create_alarm(member_id), disarm_alarm")
    func alarmsPerMember() async throws {
        let servers = try await Self.startBoth()
        defer {
            servers.etcd.stop()
            servers.etcetera.stop()
        }
        var transcripts: [[String]] = []
        for server in [servers.etcd, servers.etcetera] {
            let transcript = try await withEtcdClient(port: server.port) { client in
                let member = try await client.maintenance.status(.init()).header.memberID
                func text(_ alarms: [Etcdserverpb_AlarmMember]) -> String {
                    // etcd lists alarms of one type in no particular order.
                    alarms.map { "\($0.memberID == member ? "self" : String($0.memberID)):\($0.alarm)" }.sorted().joined(separator: ",")
                }
                func call(_ action: Etcdserverpb_AlarmRequest.AlarmAction, member id: UInt64, _ type: Etcdserverpb_AlarmType = .nospace) async throws -> String {
                    let answer = try await client.maintenance.alarm(.with { $0.action = action; $0.memberID = id; $0.alarm = type })
                    let listed = try await client.maintenance.alarm(.with { $0.action = .get })
                    return "\(action) \(id == member ? "self" : String(id)): [\(text(answer.alarms))] then [\(text(listed.alarms))]"
                }
                return [
                    try await call(.activate, member: 0),
                    try await call(.activate, member: member),
                    try await call(.activate, member: 0),
                    try await call(.deactivate, member: 0),
                    try await call(.deactivate, member: 0),
                    try await call(.deactivate, member: 5),
                    try await call(.deactivate, member: member),
                ]
            }
            transcripts.append(transcript)
        }
        #expect(transcripts[1] == transcripts[0])
        #expect(transcripts[0].count == 7 && transcripts[0][1].hasSuffix("then [0:nospace,self:nospace]"), "\(transcripts[0])")
    }

    @Test("periodic auto-compaction keeps about the retention of history")
    func periodicAutoCompaction() async throws {
        let etcetera = try await ServerProcess.etcetera(extraArguments: ["--auto-compaction-mode", "periodic", "--auto-compaction-retention", "2s"])
        defer { etcetera.stop() }
        let firstPut = ContinuousClock.now
        for index in 1...5 {
            #expect(try await Etcdctl.run(["put", "k", "v\(index)"], endpoint: etcetera.endpoint).status == 0)
        }
        // Within 2 s of the first put nothing past it can be compacted; after that the revision of 2 s
        // ago (6) is the point. Only a read that surely falls in those 2 s can check the first part.
        let early = try await Etcdctl.run(["get", "k", "--rev=2"], endpoint: etcetera.endpoint)
        if ContinuousClock.now - firstPut < .seconds(2) {
            #expect(early.stdout.contains("v1"), "\(early.stderr)")
        }
        let deadline = ContinuousClock.now + .seconds(120)
        var hash = ""
        while ContinuousClock.now < deadline {
            hash = try await Etcdctl.run(["endpoint", "hashkv", "-w", "json"], endpoint: etcetera.endpoint).stdout
            if hash.contains("\"compact_revision\":6") { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(hash.contains("\"compact_revision\":6"), "\(hash)\n\(etcetera.log)")
        let compacted = try await Etcdctl.run(["get", "k", "--rev=5"], endpoint: etcetera.endpoint)
        #expect(compacted.stderr.contains("Error: etcdserver: mvcc: required revision has been compacted"))
        #expect(etcetera.log.contains("completed auto compaction"))
    }
}
