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
    ///
    /// The stores are built in a hidden directory, synced, and renamed into place in one step: a new
    /// data directory is built next to where it belongs; an existing empty one (a mount point,
    /// perhaps, which cannot be replaced) gets its `member` directory built inside it. So the data
    /// directory never holds a half-restored store for `etcetera --data-dir` to serve, whatever stops
    /// the restore; on a failure the hidden directory is removed too (a kill leaves it behind).
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
        let target = URL(fileURLWithPath: absoluteDataDirectory)
        let suffix = UUID().uuidString.prefix(8)
        let staging = existed
            ? Path.join(absoluteDataDirectory, ".restoring-\(suffix)")
            : Path.join(target.deletingLastPathComponent().path, ".\(target.lastPathComponent).restoring-\(suffix)")
        let kvDirectory = ServicePlan.kvDataDirectory(in: staging)
        let stagedMember = URL(fileURLWithPath: kvDirectory).deletingLastPathComponent().path
        let (moved, destination) = existed
            ? (stagedMember, URL(fileURLWithPath: ServicePlan.kvDataDirectory(in: absoluteDataDirectory)).deletingLastPathComponent().path)
            : (staging, absoluteDataDirectory)
        do {
            let leaseDirectory = ServicePlan.leaseDataDirectory(in: staging)
            for directory in [staging, kvDirectory, leaseDirectory] {
                try files.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            }
            let leases = try restoreStore(snapshot, into: kvDirectory)
            try Lessor.record(leases, in: try LevelDBStorage(path: leaseDirectory, configuration: buildConfiguration))
            for directory in [stagedMember, staging] { try syncDirectory(directory) }
            // rename(2) refuses a destination that something else filled meanwhile.
            guard rename(moved, destination) == 0 else {
                throw LauncherError(code: .directoryUnusable, message: "cannot rename \(moved): \(String(cString: strerror(errno)))")
            }
            if existed { try files.removeItem(atPath: staging) }
            try syncDirectory(URL(fileURLWithPath: destination).deletingLastPathComponent().path)
            return Outcome(revision: snapshot.summary.revision, keyCount: snapshot.summary.keyCount, leaseCount: leases.count)
        } catch {
            try? files.removeItem(atPath: staging)
            throw LauncherError(code: .directoryUnusable, message: "cannot restore into \(dataDirectory): \(error)")
        }
    }

    /// Storage opened by the restore reports a failed write instead of stopping the command, so the
    /// half-built directory can be removed.
    private static var buildConfiguration: LevelDBStorage.Configuration {
        var configuration = LevelDBStorage.Configuration()
        configuration.writeFailure = .throwError
        return configuration
    }

    /// Makes the entries of `directory` (files created, renamed into it) durable.
    private static func syncDirectory(_ directory: String) throws {
        let descriptor = open(directory, O_RDONLY | O_DIRECTORY)
        guard descriptor >= 0 else {
            throw LauncherError(code: .directoryUnusable, message: "cannot open \(directory): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else {
            throw LauncherError(code: .directoryUnusable, message: "cannot sync \(directory): \(String(cString: strerror(errno)))")
        }
    }

    /// Restores the kv store and returns its registered leases, each with a TTL the lessor accepts.
    private static func restoreStore(_ snapshot: SnapshotReader, into directory: String) throws -> [(id: Int64, ttl: Int64)] {
        let store = try MVCCStore.restore(from: snapshot, into: try LevelDBStorage(path: directory, configuration: buildConfiguration))
        defer { store.close() }
        let minimumTTL = Lessor.Configuration().minimumTTL
        return try store.registeredLeases().map { ($0.id, max($0.ttl, minimumTTL)) }
    }
}
