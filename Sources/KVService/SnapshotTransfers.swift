import EtceteraAPI
import Foundation
import MVCC
import Snapshot
import Synchronization

/// The snapshots being read over the bus (`KVRequest.snapshot`): each is a file in one directory, read
/// part by part at the reader's pace and deleted once its last part is sent, or once nobody has read
/// it for `idleTimeout`.
///
/// IDs are random, so an ID from before a restart of the kv service never names a new snapshot.
/// Every method may run on any thread; making a snapshot and reading a part do file I/O, so callers
/// keep them off the bus thread.
final class SnapshotTransfers: Sendable {
    private struct Transfer {
        let path: String
        let totalBytes: UInt64
        var lastRead: ContinuousClock.Instant
    }

    private let directory: String
    private let idleTimeout: Duration
    private let partSize: UInt64
    private let maximumTransfers: Int
    /// The snapshots being read, and how many are being made.
    private let transfers = Mutex<(live: [UInt64: Transfer], starting: Int)>(([:], 0))

    /// Creates `directory` if needed and deletes the snapshots a previous run left there: nobody can
    /// read them any more.
    /// - Parameter maximumTransfers: the most snapshots made or read at once; each is a full copy of the
    ///   store on disk, so parallel ones could fill it.
    init(directory: String, idleTimeout: Duration, partSize: Int, maximumTransfers: Int) throws {
        self.directory = directory
        self.idleTimeout = idleTimeout
        self.partSize = UInt64(partSize)
        self.maximumTransfers = maximumTransfers
        let files = FileManager.default
        try files.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        for name in try files.contentsOfDirectory(atPath: directory) where name.hasSuffix(".snap") || name.hasSuffix(".snap.part") {
            try? files.removeItem(atPath: directory + "/" + name)
        }
    }

    /// Answers a `SnapshotRequest`: id 0 at offset 0 makes a snapshot of `store` and sends its first
    /// part; otherwise the part of snapshot `id` at `offset`. A new snapshot while `maximumTransfers`
    /// are made or read is refused with `request.too_many_requests`.
    func reply(to request: Etcetera_Kv_SnapshotRequest, store: MVCCStore) -> Etcetera_Kv_KVReply {
        if request.id == 0 {
            guard request.offset == 0 else {
                return KVServer.errorReply(code: "snapshot.bad_offset", detail: "a new snapshot is read from offset 0")
            }
            let admitted = transfers.withLock { transfers in
                guard transfers.live.count + transfers.starting < maximumTransfers else { return false }
                transfers.starting += 1
                return true
            }
            guard admitted else {
                return KVServer.errorReply(
                    code: "request.too_many_requests", detail: "\(maximumTransfers) snapshots are being made or read already")
            }
            defer { transfers.withLock { $0.starting -= 1 } }
            do {
                return part(of: try start(store), at: 0)
            } catch {
                return KVServer.errorReply(error)
            }
        }
        return part(of: request.id, at: request.offset)
    }

    /// Deletes the snapshots not read for `idleTimeout`.
    func discardIdle(now: ContinuousClock.Instant = .now) {
        let idle = transfers.withLock { transfers in
            let expired = transfers.live.filter { now - $0.value.lastRead >= idleTimeout }
            for id in expired.keys { transfers.live[id] = nil }
            return expired.values.map(\.path)
        }
        for path in idle { try? FileManager.default.removeItem(atPath: path) }
    }

    /// Deletes every snapshot (at shutdown).
    func discardAll() {
        discardIdle(now: .now + idleTimeout)
    }

    private func start(_ store: MVCCStore) throws(MVCCError) -> UInt64 {
        var id: UInt64 = 0
        while id == 0 { id = UInt64.random(in: 1...UInt64.max) }
        let path = directory + "/" + String(id, radix: 16) + ".snap"
        let summary = try store.writeSnapshot(to: path)
        transfers.withLock { $0.live[id] = Transfer(path: path, totalBytes: summary.totalBytes, lastRead: .now) }
        return id
    }

    private func part(of id: UInt64, at offset: UInt64) -> Etcetera_Kv_KVReply {
        guard let transfer = transfers.withLock({ $0.live[id] }) else {
            return KVServer.errorReply(code: "snapshot.not_found", detail: "no snapshot \(id): never made, finished, or discarded after a minute unread")
        }
        guard let range = SnapshotFormat.partRange(at: offset, totalBytes: transfer.totalBytes, maximumLength: partSize) else {
            return KVServer.errorReply(code: "snapshot.bad_offset", detail: "offset \(offset) is past the end of snapshot \(id) (\(transfer.totalBytes) bytes)")
        }
        let data: [UInt8]
        do {
            data = try SnapshotReader.bytes(of: transfer.path, in: range)
        } catch {
            // Discarded while this part was read.
            return KVServer.errorReply(code: "snapshot.not_found", detail: "\(error)")
        }
        let isLast = range.upperBound == transfer.totalBytes
        let finished = transfers.withLock { transfers in
            if isLast { return transfers.live.removeValue(forKey: id) != nil }
            transfers.live[id]?.lastRead = .now
            return false
        }
        if finished { try? FileManager.default.removeItem(atPath: transfer.path) }
        var reply = Etcetera_Kv_KVReply()
        reply.snapshot.id = id
        reply.snapshot.totalBytes = transfer.totalBytes
        reply.snapshot.offset = offset
        reply.snapshot.data = Data(data)
        return reply
    }
}
