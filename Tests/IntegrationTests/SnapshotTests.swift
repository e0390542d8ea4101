import Foundation
import TestSupport
import Testing

/// `etcdctl snapshot save` against a running Etcetera (Maintenance.Snapshot through the gateway and the
/// maintenance service, read from the kv store part by part), checked and restored with
/// `etcetera snapshot`, then served by `etcetera`: etcdctl sees the same store.
@Suite("Snapshot save, status and restore", .timeLimit(.minutes(10)))
struct SnapshotTests {
    /// What `etcdctl get` prints of every key at a revision, without the member's identity.
    private func everything(_ server: ServerProcess, revision: Int? = nil) async throws -> String {
        let output = try await Etcdctl.run(
            ["get", "", "--prefix", "-w", "fields"] + (revision.map { ["--rev=\($0)"] } ?? []), endpoint: server.endpoint)
        return (output.stdout + output.stderr).split(separator: "\n")
            .filter { !$0.hasPrefix("\"ClusterID\"") && !$0.hasPrefix("\"MemberID\"") && !$0.hasPrefix("\"RaftTerm\"") }
            .joined(separator: "\n")
    }

    @Test("a restored data dir serves the same keys, values, revisions, compaction point and leases")
    func saveRestoreServe() async throws {
        let source = try await ServerProcess.etcetera()
        defer { source.stop() }
        let lease = try await Etcdctl.grantLease(ttl: 600, endpoint: source.endpoint)
        for arguments in [
            ["put", "a", "1"], ["put", "b", "2"], ["put", "a", "3"], ["del", "b"], ["put", "--lease=\(lease)", "leased", "v"],
            ["compact", "3"], ["put", "c"],
        ] {
            // c's value, too long for an argument, comes from standard input.
            let value = arguments == ["put", "c"] ? String(repeating: "x", count: 1_200_000) : nil
            let output = try await Etcdctl.run(arguments, endpoint: source.endpoint, input: value)
            #expect(output.status == 0, "\(arguments): \(output.stderr)")
        }
        let head = try await everything(source)
        let past = try await everything(source, revision: 4)
        #expect(head.contains("\"Revision\" : 7"), "\(head)")

        let hashKV = try await Etcdctl.run(["endpoint", "hashkv"], endpoint: source.endpoint)
        #expect(hashKV.status == 0, "\(hashKV.stderr)")

        let directory = TestPaths.temporaryDirectory(prefix: "snapshot")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let file = directory + "/store.snap"
        let save = try await Etcdctl.run(["snapshot", "save", file], endpoint: source.endpoint)
        #expect(save.status == 0 && save.stdout == "Snapshot saved at \(file)\n", "\(save.stdout)\(save.stderr)")
        #expect(!FileManager.default.fileExists(atPath: file + ".part"))
        let size = try #require(try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int)
        // etcdctl's own check of a snapshot: a SHA-256 after a whole number of 512-byte pages.
        #expect(size % 512 == 32 && size > 2_400_000, "\(size) bytes")
        source.stop()

        let etcetera = TestPaths.executable("etcetera")
        let status = try await Command.run(etcetera, ["snapshot", "status", file, "-w", "table"])
        #expect(status.status == 0, "\(status.stderr)")
        let rows = status.stdout.split(separator: "\n")
        #expect(rows.count == 5 && rows[1] == "|   HASH   | REVISION | TOTAL KEYS | TOTAL SIZE |", "\(status.stdout)")
        #expect(rows[3].contains(" |        7 |          3 |     2.4 MB |"), "\(status.stdout)")

        let restoredDirectory = directory + "/restored"
        let restore = try await Command.run(etcetera, ["snapshot", "restore", file, "--data-dir", restoredDirectory])
        #expect(restore.status == 0, "\(restore.stderr)")
        let again = try await Command.run(etcetera, ["snapshot", "restore", file, "--data-dir", restoredDirectory])
        #expect(again.status == 1 && again.stderr == "Error: data-dir \"\(restoredDirectory)\" exists\n")

        let restored = try await ServerProcess.etcetera(dataDirectory: restoredDirectory)
        defer { restored.stop() }
        #expect(try await Etcdctl.run(["endpoint", "hashkv"], endpoint: restored.endpoint).stdout
            .replacingOccurrences(of: restored.endpoint, with: source.endpoint) == hashKV.stdout)
        #expect(try await everything(restored) == head)
        #expect(try await everything(restored, revision: 4) == past)
        let compacted = try await Etcdctl.run(["get", "a", "--rev=2"], endpoint: restored.endpoint)
        #expect(compacted.stderr.contains("required revision has been compacted"))
        let timeToLive = try await Etcdctl.run(["lease", "timetolive", lease, "--keys"], endpoint: restored.endpoint)
        #expect(timeToLive.stdout.contains("granted with TTL(600s)") && timeToLive.stdout.contains("attached keys([leased])"), "\(timeToLive.stdout)")
        let put = try await Etcdctl.run(["put", "--lease=\(lease)", "more", "v"], endpoint: restored.endpoint)
        #expect(put.status == 0, "\(put.stderr)")
        let revoked = try await Etcdctl.run(["lease", "revoke", lease], endpoint: restored.endpoint)
        #expect(revoked.status == 0)
        #expect(try await Etcdctl.run(["get", "", "--prefix", "--keys-only"], endpoint: restored.endpoint).stdout
            .split(separator: "\n").filter { !$0.isEmpty } == ["a", "c"])
    }

    @Test("a truncated or corrupted snapshot file is refused by status and restore with a clear error")
    func damagedFilesAreRefused() async throws {
        let source = try await ServerProcess.etcetera()
        defer { source.stop() }
        for index in 0..<50 {
            _ = try await Etcdctl.run(["put", "key\(index)", String(repeating: "v", count: 100)], endpoint: source.endpoint)
        }
        let directory = TestPaths.temporaryDirectory(prefix: "snapshot-damaged")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let file = directory + "/good.snap"
        #expect(try await Etcdctl.run(["snapshot", "save", file], endpoint: source.endpoint).status == 0)
        let good = try Data(contentsOf: URL(fileURLWithPath: file))

        var corrupted = good
        corrupted[good.count / 2] ^= 0x01
        let damaged = [("truncated", good.prefix(good.count - 700)), ("corrupted", corrupted)]
        let etcetera = TestPaths.executable("etcetera")
        for (name, bytes) in damaged {
            let path = directory + "/\(name).snap"
            try bytes.write(to: URL(fileURLWithPath: path))
            let status = try await Command.run(etcetera, ["snapshot", "status", path])
            #expect(status.status != 0 && status.stderr.hasPrefix("Error: "), "\(name): \(status.stdout)\(status.stderr)")
            let restore = try await Command.run(etcetera, ["snapshot", "restore", path, "--data-dir", directory + "/\(name)-restored"])
            #expect(restore.status != 0 && restore.stderr.hasPrefix("Error: "), "\(name): \(restore.stderr)")
            #expect(!FileManager.default.fileExists(atPath: directory + "/\(name)-restored"), "nothing is left of a refused restore")
        }
        let status = try await Command.run(etcetera, ["snapshot", "status", file])
        #expect(status.status == 0, "\(status.stderr)")
    }
}
