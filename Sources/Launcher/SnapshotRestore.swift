import Foundation
import Lease
import MVCC
import Snapshot
import Storage

/// `etcetera snapshot restore`: builds a data directory from a snapshot, so that `etcetera --data-dir`
/// on it serves the snapshot's keys, values, revisions and leases.
///
/// The kv store's LevelDB (where ``ServicePlan`` points `etcetera-kv`) gets every record of the
/// snapshot; the lease service's LevelDB (where it points `etcetera-lease`) gets each lease the kv
/// store had registered, with its granted TTL, in the lessor's format. Leases then restart with their
/// full TTL, as after any restart of the lease service.
public enum SnapshotRestore {
    /// What a restore wrote.
    public struct Outcome: Sendable, Hashable {
        public var revision: Int64
        public var keyCount: UInt64
        public var leaseCount: Int
    }

    /// Verifies `file` and restores it into `absoluteDataDirectory`, which must not exist or be empty.
    /// On failure nothing is left behind.
    /// - Parameters:
    ///   - dataDirectory: the directory as the operator wrote it, for messages.
    /// - Throws: `LauncherError`: `.snapshotUnusable` (the file fails verification),
    ///   `.dataDirectoryExists` (etcd's "data-dir … exists"), `.directoryUnusable` (writing failed).
    public static func run(file: String, dataDirectory: String, absoluteDataDirectory: String) throws -> Outcome {
        let snapshot: SnapshotReader
        do {
            snapshot = try SnapshotReader(path: file)
        } catch {
            throw LauncherError(code: .snapshotUnusable, message: "\(error)")
        }
        let files = FileManager.default
        let existed = files.fileExists(atPath: absoluteDataDirectory)
        if existed, !((try? files.contentsOfDirectory(atPath: absoluteDataDirectory).isEmpty) ?? false) {
            throw LauncherError(code: .dataDirectoryExists, message: "data-dir \"\(dataDirectory)\" exists")
        }
        let kvDirectory = ServicePlan.kvDataDirectory(in: absoluteDataDirectory)
        let leaseDirectory = ServicePlan.leaseDataDirectory(in: absoluteDataDirectory)
        do {
            for directory in [absoluteDataDirectory, kvDirectory, leaseDirectory] {
                try files.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            }
            let leases = try restoreStore(snapshot, into: kvDirectory)
            try Lessor.record(leases, in: try LevelDBStorage(path: leaseDirectory))
            return Outcome(revision: snapshot.summary.revision, keyCount: snapshot.summary.keyCount, leaseCount: leases.count)
        } catch {
            if existed {
                for entry in (try? files.contentsOfDirectory(atPath: absoluteDataDirectory)) ?? [] {
                    try? files.removeItem(atPath: absoluteDataDirectory + "/" + entry)
                }
            } else {
                try? files.removeItem(atPath: absoluteDataDirectory)
            }
            throw LauncherError(code: .directoryUnusable, message: "cannot restore into \(dataDirectory): \(error)")
        }
    }

    /// Restores the kv store and returns its registered leases, each with a TTL the lessor accepts.
    private static func restoreStore(_ snapshot: SnapshotReader, into directory: String) throws -> [(id: Int64, ttl: Int64)] {
        let store = try MVCCStore.restore(from: snapshot, into: try LevelDBStorage(path: directory))
        defer { store.close() }
        let minimumTTL = Lessor.Configuration().minimumTTL
        return try store.registeredLeases().map { ($0.id, max($0.ttl, minimumTTL)) }
    }
}
