import Bus
import Dispatch
import EtceteraAPI

/// A session's outputs on their way to its gateway: what the hub produces for the session while its
/// queue works on one thing (a revision matched against every watcher, a batch of history) leaves as
/// one bus message, sent once the queue is done with the work in hand. An event that a thousand
/// watchers of one client stream match is then one message on the bus and one write to the client,
/// not a thousand.
///
/// Confined to the hub's queue, like the hub.
final class SessionOutbox: @unchecked Sendable {
    /// A batch this large leaves at once rather than growing: bus messages stay small enough to
    /// interleave with other sessions' and not to hold much memory each.
    static let flushBytes = 256 << 10

    private let stream: BusIncomingRequest
    private let queue: DispatchQueue
    private var pending = Etcetera_Watch_SessionOutputs()
    private var pendingBytes = 0

    /// - Parameters:
    ///   - stream: the session's `open` request, whose PARTIALs carry the outputs.
    ///   - queue: the hub's queue, which this outbox is confined to.
    init(stream: BusIncomingRequest, queue: DispatchQueue) {
        self.stream = stream
        self.queue = queue
    }

    func add(_ output: Etcetera_Watch_SessionOutput) {
        if pending.outputs.isEmpty {
            queue.async { self.flush() }
        }
        pending.outputs.append(output)
        pendingBytes += output.response.count
        if pendingBytes >= Self.flushBytes { flush() }
    }

    private func flush() {
        guard !pending.outputs.isEmpty else { return }
        stream.sendPartial((try? pending.serializedBytes()) ?? [])
        pending = Etcetera_Watch_SessionOutputs()
        pendingBytes = 0
    }
}
