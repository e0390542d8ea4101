import Synchronization

/// The highest store revision the gateway has passed on in a response header. etcd puts the store's
/// current revision in every header; the lease service learns the store's revision only from its own
/// calls to the kv store, so its answers can carry an older one (a keep-alive after a put). The
/// gateway raises those headers to what it has seen: every write through it passes here.
///
/// Only headers without data behind them are raised (the Lease calls), and a watch create is told the
/// revision so that its watcher starts after it: a range's revision says which revision its data is,
/// and is passed on exactly as the kv store gave it.
final class StoreRevision: Sendable {
    private let highest = Atomic<Int64>(0)

    /// The highest revision seen so far (0: none).
    var current: Int64 {
        highest.load(ordering: .relaxed)
    }

    /// Notes the header revision of an encoded response.
    func observe(_ response: [UInt8]) {
        if let revision = ProtobufWire.headerRevision(of: response) { raise(to: revision) }
    }

    /// An encoded response whose header revision is below the highest seen, with one appended that
    /// carries the highest: protobuf keeps the last value of a field that appears twice.
    func raisingHeader(of response: [UInt8]) -> [UInt8] {
        let own = ProtobufWire.headerRevision(of: response) ?? 0
        raise(to: own)
        let latest = highest.load(ordering: .relaxed)
        guard latest > own else { return response }
        return response + ProtobufWire.headerField(revision: latest)
    }

    private func raise(to revision: Int64) {
        var current = highest.load(ordering: .relaxed)
        while revision > current {
            let (exchanged, original) = highest.compareExchange(expected: current, desired: revision, ordering: .relaxed)
            if exchanged { return }
            current = original
        }
    }
}
