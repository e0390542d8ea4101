import EtceteraAPI
import Foundation

/// One client Watch stream as the gateway forwards it: its watchers, its id numbering, and how many
/// outputs are on their way to the client.
final class Session {
    let id: UInt64
    let maxResponseBytes: Int
    var nextWatchID: Int64
    var watchers: [Int64: Watcher] = [:]
    /// The window charge of outputs sent but not yet reported delivered by the gateway.
    var undelivered = 0
    /// Set while `undelivered` is over the window: matching watchers fall behind instead of sending.
    var isPaused = false
    var lastKept: ContinuousClock.Instant
    var lastReportedProgress: Etcetera_Watch_SessionProgress?
    let output: (Etcetera_Watch_SessionOutput) -> Void

    init(id: UInt64, maxResponseBytes: Int, nextWatchID: Int64, now: ContinuousClock.Instant,
         output: @escaping (Etcetera_Watch_SessionOutput) -> Void) {
        self.id = id
        self.maxResponseBytes = maxResponseBytes
        self.nextWatchID = nextWatchID
        self.lastKept = now
        self.output = output
    }

    /// etcd's numbering: the lowest unused id at or after the last one handed out.
    func takeWatchID() -> Int64 {
        while watchers[nextWatchID] != nil { nextWatchID += 1 }
        defer { nextWatchID += 1 }
        return nextWatchID
    }
}
