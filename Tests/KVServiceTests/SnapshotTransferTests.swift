import Bus
import EtceteraAPI
import Foundation
import KVService
import Logging
import MVCC
import Snapshot
import Storage
import Testing

@Suite("The kv service's snapshot parts", .serialized)
struct SnapshotTransferTests {
    @Test("a snapshot read part by part over the bus is a verified file of the store at one revision, leases included")
    func readWholeSnapshot() async throws {
        let kv = try await RunningKVServer.started(partSize: 4096)
        let leaseReply = try await kv.request { $0.registerLeases.leases = [.with { $0.id = 77; $0.ttl = 45 }] }
        guard case .leasesRegistered = leaseReply.reply else { Issue.record("\(leaseReply)"); return await kv.stop() }
        for index in 0..<300 { try await kv.put(String(format: "key-%03d", index), String(repeating: "v", count: 100), lease: index == 7 ? 77 : 0) }

        var file: [UInt8] = []
        var parts: [Etcetera_Kv_SnapshotPart] = []
        var id: UInt64 = 0
        var total: UInt64 = 1
        while UInt64(file.count) < total {
            let reply = try await kv.snapshotPart(id: id, offset: UInt64(file.count))
            guard case .snapshot(let part) = reply.reply else { Issue.record("\(reply)"); break }
            if id == 0 {
                id = part.id
                total = part.totalBytes
                // Written after the snapshot was made: not in it.
                try await kv.put("later", "x")
            }
            #expect(part.id == id && part.totalBytes == total && part.offset == UInt64(file.count))
            #expect(part.data.count <= 4096)
            parts.append(part)
            file += part.data
        }
        #expect(id != 0)
        #expect(total % 512 == 32 && UInt64(file.count) == total)
        #expect(parts.last?.data.count == 32, "the last part is exactly the checksum")
        #expect(parts.dropLast().allSatisfy { $0.data.count == 4096 || $0.offset + UInt64($0.data.count) == total - 32 })

        let path = kv.directory + "/received.snap"
        try Data(file).write(to: URL(fileURLWithPath: path))
        let snapshot = try SnapshotReader(path: path)
        #expect(snapshot.summary.revision == 301)
        #expect(snapshot.summary.keyCount == 300)
        let restored = try MVCCStore.restore(from: snapshot, into: InMemoryStorage())
        #expect(restored.currentRevision == 301)
        #expect(try restored.registeredLeases().map { "\($0.id):\($0.ttl)" } == ["77:45"])
        var range = Etcdserverpb_RangeRequest()
        range.key = Data("key-007".utf8)
        #expect(try restored.range(range).kvs.first?.lease == 77)

        // Once its last part is sent the snapshot is gone, from the bus and from the disk.
        let again = try await kv.snapshotPart(id: id, offset: 0)
        #expect(again.error.code == "snapshot.not_found")
        #expect(try FileManager.default.contentsOfDirectory(atPath: kv.snapshotDirectory).isEmpty)
        await kv.stop()
    }

    @Test("unknown ids, offsets past the end and a new snapshot from a non-zero offset get clear errors")
    func errors() async throws {
        let kv = try await RunningKVServer.started(partSize: 1 << 20)
        #expect(try await kv.snapshotPart(id: 12345, offset: 0).error.code == "snapshot.not_found")
        #expect(try await kv.snapshotPart(id: 0, offset: 10).error.code == "snapshot.bad_offset")
        let first = try await kv.snapshotPart(id: 0, offset: 0)
        #expect(first.snapshot.totalBytes == 512 + 32, "a fresh store fits one block")
        #expect(first.snapshot.data.count == 512)
        let past = try await kv.snapshotPart(id: first.snapshot.id, offset: first.snapshot.totalBytes)
        #expect(past.error.code == "snapshot.bad_offset")
        let last = try await kv.snapshotPart(id: first.snapshot.id, offset: 512)
        #expect(last.snapshot.data.count == 32)
        await kv.stop()
    }

    @Test("a snapshot nobody reads is deleted after the idle timeout; leftovers of an earlier run are deleted at start")
    func idleSnapshotsAreDeleted() async throws {
        let kv = try await RunningKVServer.started(partSize: 1 << 20, idleTimeout: .milliseconds(400))
        let first = try await kv.snapshotPart(id: 0, offset: 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: kv.snapshotDirectory).count == 1)
        try await Task.sleep(for: .milliseconds(1200))
        #expect(try await kv.snapshotPart(id: first.snapshot.id, offset: 512).error.code == "snapshot.not_found")
        #expect(try FileManager.default.contentsOfDirectory(atPath: kv.snapshotDirectory).isEmpty)

        #expect(FileManager.default.createFile(atPath: kv.snapshotDirectory + "/abc.snap", contents: Data([1])))
        #expect(FileManager.default.createFile(atPath: kv.snapshotDirectory + "/keep.txt", contents: Data([1])))
        var configuration = KVServer.Configuration(listenEndpoint: "ipc://\(kv.directory)/other.sock", eventsEndpoint: "ipc://\(kv.directory)/other-events.sock")
        configuration.snapshotDirectory = kv.snapshotDirectory
        _ = try KVServer(store: kv.store, configuration: configuration, logger: Logger(label: "kv-test"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: kv.snapshotDirectory) == ["keep.txt"])
        await kv.stop()
    }
}
