import Foundation
import Logging

/// What a failed write or sync does to a serving process: it stops it, as etcd panics when its
/// backend cannot commit. After a failed sync the engine's state is unknowable (LevelDB keeps the
/// error and refuses every later write; a log record whose append succeeded may or may not be on
/// disk, and may come back at the next open), so the one honest answer to the requests in flight is
/// none: the process ends before it replies to anything else, its clients see the connection drop
/// (`Unavailable`, the code that says the outcome is unknown), the supervisor starts it again, and
/// the new process reads whatever the disk really holds.
///
/// This is the single place that decides it: `LevelDBStorage` calls ``stopProcess(after:in:)`` for
/// every failed write of a store opened with ``LevelDBStorage/WriteFailure/stopProcess``, so the kv
/// store's commits, alarms and compactions, the lessor's and the auth store's records all stop the
/// same way.
public enum FailStop {
    /// The exit status of a process stopped by a storage failure: Go's for a panic, which is what
    /// etcd exits with in the same situation.
    public static let exitStatus: Int32 = 2

    /// Logs one critical line that names the directory and the engine's error, then ends the process
    /// at once, without running exit handlers or letting another thread answer a request.
    public static func stopProcess(after error: StorageError, in path: String) -> Never {
        let logger = Logger(label: ProcessInfo.processInfo.processName)
        logger.critical("storage write failed in \(path): \(error.detail); stopping so that nothing is answered from an unknown state")
        _exit(exitStatus)
    }
}
