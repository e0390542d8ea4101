import Bus
import EtceteraAPI
import Foundation
import Logging
import TestSupport
import Testing

/// A snapshot read from a running kv service over the bus (as the maintenance service will), checked
/// and restored with `etcetera snapshot`, then served by `etcetera`: etcdctl sees the same store.
@Suite("Snapshot save, status and restore")
struct SnapshotTests {
    /// Reads a whole snapshot from the kv service part by part, as `KVRequest.snapshot` defines it.
    private func saveSnapshot(from etcetera: ServerProcess, to path: String) async throws -> Int {
        let bus = try BusClient(connect: "ipc://\(etcetera.dataDirectory)/bus/kv.sock", logger: Logger(label: "test"))
        defer { bus.close() }
        var file = Data()
        var id: UInt64 = 0
        var total: UInt64 = 1
        var parts = 0
        while UInt64(file.count) < total {
            var request = Etcetera_Kv_KVRequest()
            request.snapshot.id = id
            request.snapshot.offset = UInt64(file.count)
            let reply = try Etcetera_Kv_KVReply(serializedBytes: try await bus.request(try request.serializedBytes(), timeout: .seconds(10)))
            guard case .snapshot(let part) = reply.reply else { throw TestFailure("snapshot part refused: \(reply)") }
            (id, total) = (part.id, part.totalBytes)
            file += part.data
            parts += 1
        }
        try file.write(to: URL(fileURLWithPath: path))
        return parts
    }

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

        let directory = TestPaths.temporaryDirectory(prefix: "snapshot")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = directory + "/store.snap"
        let parts = try await saveSnapshot(from: source, to: file)
        // The 1.2 MB value is in c's head and in its revision's event: three parts of at most 1 MiB, then the checksum.
        #expect(parts == 4)
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
}
