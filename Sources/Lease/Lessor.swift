import Storage

/// The leases of a deployment and when each expires: etcd's lessor without the keys, which the kv
/// store keeps (each key records its lease). Plain Swift and single-threaded: the lease service drives
/// it from one queue and passes the time in, so tests control the clock.
///
/// Leases persist in their own storage (`l` + ID → granted TTL) and are written with a synced batch
/// before a grant or a revoke is acknowledged. Expiry times are not persisted: after a restart every
/// lease gets its full TTL again plus `restoreExtension`, as etcd's leases do on a new leader, so a
/// restart never expires a lease its holder was keeping alive. With checkpoints (etcd's
/// `--experimental-enable-lease-checkpoint`) ``checkpoint(now:)`` also records the time left of each
/// lease longer than the checkpoint interval (`l` + ID → granted TTL, remaining TTL), and a restart
/// gives such a lease that time rather than its full TTL, so restarting often cannot keep alive a
/// long lease nobody renews; renewing it clears its checkpoint, as in etcd.
public final class Lessor {
    public struct Configuration: Sendable {
        /// Shorter TTLs are raised to this (etcd: 1.5 election timeouts, rounded up: 2 s by default).
        public var minimumTTL: Int64 = 2
        /// etcd's `MaxLeaseTTL`.
        public var maximumTTL: Int64 = 9_000_000_000
        /// Added to every restored lease's TTL (etcd extends by its election timeout, 1 s by default).
        public var restoreExtension: Duration = .seconds(1)
        /// At most this many restored leases expire per second; later ones are pushed back (etcd's
        /// lease revoke rate), so a restart does not revoke a pile of leases at once.
        public var revokeRate = 1000
        /// etcd's lease checkpoint interval (5 minutes in etcd 3.4): leases with a longer TTL get
        /// their time left recorded by ``checkpoint(now:)``. Used only when checkpoints are taken.
        public var checkpointInterval: Duration = .seconds(300)

        public init() {}
    }

    /// Why a lease operation was refused, in etcd's terms.
    public enum Failure: Error, Sendable, Equatable {
        /// etcd's `ErrLeaseNotFound` ("etcdserver: requested lease not found").
        case notFound
        /// "etcdserver: lease already exists".
        case exists
        /// "etcdserver: too large lease TTL".
        case ttlTooLarge
        case storage(String)
    }

    /// A lease as its owner sees it.
    public struct Lease: Sendable, Equatable {
        public let id: Int64
        /// The TTL it was granted with (after raising to the minimum), in seconds.
        public let grantedTTL: Int64
        public let expiry: ContinuousClock.Instant
    }

    private static let recordPrefix = UInt8(ascii: "l")

    public let configuration: Configuration
    private let storage: any KeyValueStorage
    private var leases: [Int64: Lease] = [:]
    private var expiries = ExpiryQueue()
    private var revoking: Set<Int64> = []
    /// Leases whose record holds a checkpointed time left.
    private var checkpointed: Set<Int64> = []
    private var idGenerator: LeaseIDGenerator

    /// Opens the leases kept in `storage`, each restored with its full TTL from `now`.
    public init(
        storage: any KeyValueStorage, configuration: Configuration = .init(), idGenerator: LeaseIDGenerator,
        now: ContinuousClock.Instant
    ) throws(Failure) {
        self.storage = storage
        self.configuration = configuration
        self.idGenerator = idGenerator
        var restored: [(id: Int64, ttl: Int64, remaining: Int64?)] = []
        let cursor = storage.snapshot().makeCursor()
        cursor.seek([Self.recordPrefix])
        while cursor.isValid, cursor.key.first == Self.recordPrefix {
            if let id = Self.decodeInt64(cursor.key.dropFirst()), let record = Self.decodeRecord(cursor.value) {
                restored.append((id, record.ttl, record.remaining))
            }
            cursor.next()
        }
        do {
            try cursor.checkError()
        } catch {
            throw .storage("\(error)")
        }
        restore(restored, now: now)
    }

    // MARK: Requests

    /// Grants a lease. `id` 0 lets the lessor choose one.
    @discardableResult
    public func grant(id requested: Int64, ttl: Int64, now: ContinuousClock.Instant) throws(Failure) -> Lease {
        guard ttl <= configuration.maximumTTL else { throw .ttlTooLarge }
        var id = requested
        if id == 0 {
            repeat { id = idGenerator.next() } while leases[id] != nil || id == 0
        } else if leases[id] != nil {
            throw .exists
        }
        let granted = max(ttl, configuration.minimumTTL)
        var batch = WriteBatch()
        batch.put(Self.recordKey(id), Self.encodeInt64(granted))
        try persist(batch)
        let lease = Lease(id: id, grantedTTL: granted, expiry: now + .seconds(granted))
        leases[id] = lease
        expiries.set(lease.expiry, for: id)
        return lease
    }

    /// Renews a live lease for its full TTL; returns the TTL. A lease that has expired (even if its
    /// keys are not deleted yet) is not found, as etcd's keep-alive answers TTL 0 for it. A
    /// checkpointed lease loses its checkpoint first (one synced write, once per checkpoint).
    public func renew(_ id: Int64, now: ContinuousClock.Instant) throws(Failure) -> Int64 {
        guard let lease = live(id, now: now) else { throw .notFound }
        if checkpointed.contains(id) {
            var batch = WriteBatch()
            batch.put(Self.recordKey(id), Self.encodeInt64(lease.grantedTTL))
            try persist(batch)
            checkpointed.remove(id)
        }
        let renewed = Lease(id: id, grantedTTL: lease.grantedTTL, expiry: now + .seconds(lease.grantedTTL))
        leases[id] = renewed
        expiries.set(renewed.expiry, for: id)
        return renewed.grantedTTL
    }

    /// Seconds left (rounded down, as etcd reports them) and the granted TTL of a live lease.
    public func timeToLive(_ id: Int64, now: ContinuousClock.Instant) throws(Failure) -> (remaining: Int64, granted: Int64) {
        guard let lease = live(id, now: now) else { throw .notFound }
        return (Self.wholeSeconds(now.duration(to: lease.expiry)), lease.grantedTTL)
    }

    /// Every lease not yet revoked, expired ones included (as etcd lists them until they are gone).
    public var leaseIDs: [Int64] { leases.keys.sorted() }

    /// How many ``leaseIDs`` there are, without listing them.
    public var leaseCount: Int { leases.count }

    /// Entries in the expiry queue: at most one per lease, however often leases are renewed.
    public var queuedExpiryCount: Int { expiries.count }

    /// The leases of ``leaseIDs``, in the same order.
    public var allLeases: [Lease] { leases.values.sorted { $0.id < $1.id } }

    /// Starts revoking a lease: from now on it cannot be renewed and is not handed out again as
    /// expired. The caller deletes its keys in the kv store, then calls ``finishRevoke(_:)``; a lease
    /// is only forgotten once its keys are gone, so a crash in between revokes it again later.
    public func beginRevoke(_ id: Int64) throws(Failure) {
        guard leases[id] != nil else { throw .notFound }
        revoking.insert(id)
    }

    /// The keys of a revoking lease could not be deleted: it may be handed out as expired again.
    public func abandonRevoke(_ id: Int64) {
        revoking.remove(id)
        if let lease = leases[id] { expiries.set(lease.expiry, for: id) }
    }

    /// Forgets a revoked lease for good.
    public func finishRevoke(_ id: Int64) throws(Failure) {
        var batch = WriteBatch()
        batch.delete(Self.recordKey(id))
        try persist(batch)
        leases[id] = nil
        expiries.remove(id)
        revoking.remove(id)
        checkpointed.remove(id)
    }

    /// etcd's lease checkpoint: records, in one synced batch, the time left of every live lease whose
    /// TTL is longer than the checkpoint interval, for a restart to resume from; returns how many.
    @discardableResult
    public func checkpoint(now: ContinuousClock.Instant) throws(Failure) -> Int {
        var batch = WriteBatch()
        var taken: [Int64] = []
        for lease in leases.values where Duration.seconds(lease.grantedTTL) > configuration.checkpointInterval {
            guard live(lease.id, now: now) != nil else { continue }
            let remaining = max(1, Self.wholeSeconds(now.duration(to: lease.expiry)))
            batch.put(Self.recordKey(lease.id), Self.encodeInt64(lease.grantedTTL) + Self.encodeInt64(remaining))
            taken.append(lease.id)
        }
        guard !taken.isEmpty else { return 0 }
        try persist(batch)
        checkpointed.formUnion(taken)
        return taken.count
    }

    /// Leases whose time is up and that nobody is revoking yet, earliest first, at most `limit`; each
    /// is marked as being revoked (``beginRevoke(_:)``).
    public func takeExpired(now: ContinuousClock.Instant, limit: Int) -> [Int64] {
        var expired: [Int64] = []
        while expired.count < limit, let (expiry, id) = expiries.peek(), expiry <= now {
            expiries.pop()
            // A lease revoked by request leaves the queue here; abandoning its revoke puts it back.
            guard leases[id] != nil, !revoking.contains(id) else { continue }
            revoking.insert(id)
            expired.append(id)
        }
        return expired
    }

    /// When the next lease expires, for the caller's timer.
    public var nextExpiry: ContinuousClock.Instant? {
        while let (expiry, id) = expiries.peek() {
            if leases[id] != nil, !revoking.contains(id) { return expiry }
            expiries.pop()
        }
        return nil
    }

    /// Writes leases into an empty lease store in this type's persistence format, with one synced
    /// batch, for a lessor to open later (restoring a snapshot of the kv store, which keeps every
    /// lease's ID and granted TTL).
    public static func record(_ leases: [(id: Int64, ttl: Int64)], in storage: any KeyValueStorage) throws(Failure) {
        var batch = WriteBatch()
        for lease in leases { batch.put(recordKey(lease.id), encodeInt64(lease.ttl)) }
        try persist(batch, in: storage)
    }

    // MARK: Internals

    private func live(_ id: Int64, now: ContinuousClock.Instant) -> Lease? {
        guard let lease = leases[id], !revoking.contains(id), lease.expiry > now else { return nil }
        return lease
    }

    /// etcd's promotion: every lease gets its TTL (its checkpointed time left, if it has one) plus the
    /// extension, then leases that would expire in the same second beyond three quarters of the
    /// revoke rate are spread over the following seconds.
    private func restore(_ restored: [(id: Int64, ttl: Int64, remaining: Int64?)], now: ContinuousClock.Instant) {
        for lease in restored where lease.remaining != nil { checkpointed.insert(lease.id) }
        var remaining = restored.map {
            (id: $0.id, ttl: $0.ttl, left: Duration.seconds($0.remaining ?? $0.ttl) + configuration.restoreExtension)
        }
        if remaining.count >= configuration.revokeRate {
            remaining.sort { $0.left < $1.left }
            var baseWindow = remaining[0].left
            var nextWindow = baseWindow + .seconds(1)
            var expiring = 0
            let targetPerSecond = max(1, 3 * configuration.revokeRate / 4)
            for index in remaining.indices {
                let left = remaining[index].left
                if left > nextWindow {
                    baseWindow = left
                    nextWindow = baseWindow + .seconds(1)
                    expiring = 1
                    continue
                }
                expiring += 1
                guard expiring > targetPerSecond else { continue }
                let delay = Duration.seconds(1) * (Double(expiring) / Double(targetPerSecond)) - (left - baseWindow)
                nextWindow = baseWindow + delay
                remaining[index].left = left + delay
            }
        }
        for lease in remaining {
            let restoredLease = Lease(id: lease.id, grantedTTL: lease.ttl, expiry: now + lease.left)
            leases[lease.id] = restoredLease
            expiries.set(restoredLease.expiry, for: lease.id)
        }
    }

    private func persist(_ batch: WriteBatch) throws(Failure) {
        try Self.persist(batch, in: storage)
    }

    private static func persist(_ batch: WriteBatch, in storage: any KeyValueStorage) throws(Failure) {
        do {
            try storage.write(batch, sync: true)
        } catch {
            throw .storage("\(error)")
        }
    }

    private static func recordKey(_ id: Int64) -> [UInt8] {
        [recordPrefix] + encodeInt64(id)
    }

    private static func encodeInt64(_ value: Int64) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.appendBigEndian(UInt64(bitPattern: value))
        return bytes
    }

    /// A lease record: its granted TTL, then its checkpointed time left, if it has one.
    private static func decodeRecord(_ bytes: [UInt8]) -> (ttl: Int64, remaining: Int64?)? {
        switch bytes.count {
        case 8: return decodeInt64(bytes[...]).map { ($0, nil) }
        case 16:
            guard let ttl = decodeInt64(bytes[0..<8]), let remaining = decodeInt64(bytes[8..<16]), remaining > 0 else { return nil }
            return (ttl, min(remaining, ttl))
        default: return nil
        }
    }

    private static func decodeInt64(_ bytes: ArraySlice<UInt8>) -> Int64? {
        guard bytes.count == 8 else { return nil }
        return Int64(bitPattern: UInt64(bigEndianBytes: bytes))
    }

    /// Whole seconds of a duration, rounded toward zero (Go's `int64(d.Seconds())`).
    static func wholeSeconds(_ duration: Duration) -> Int64 {
        duration.components.seconds
    }
}

/// A min-heap of (expiry, lease ID) with one entry per lease: a renewal moves the lease's entry
/// rather than adding one, so the queue grows with leases, never with keep-alives.
struct ExpiryQueue {
    private var heap: [(expiry: ContinuousClock.Instant, id: Int64)] = []
    /// Where each lease's entry is in `heap`.
    private var positions: [Int64: Int] = [:]

    var count: Int { heap.count }

    /// Queues `id` to expire at `expiry`, or moves its entry there.
    mutating func set(_ expiry: ContinuousClock.Instant, for id: Int64) {
        guard let position = positions[id] else {
            heap.append((expiry, id))
            positions[id] = heap.count - 1
            siftUp(heap.count - 1)
            return
        }
        let earlier = expiry < heap[position].expiry
        heap[position].expiry = expiry
        if earlier { siftUp(position) } else { siftDown(position) }
    }

    mutating func remove(_ id: Int64) {
        guard let position = positions[id] else { return }
        removeEntry(at: position)
    }

    func peek() -> (ContinuousClock.Instant, Int64)? { heap.first.map { ($0.expiry, $0.id) } }

    mutating func pop() {
        guard !heap.isEmpty else { return }
        removeEntry(at: 0)
    }

    private mutating func removeEntry(at position: Int) {
        positions[heap[position].id] = nil
        let last = heap.count - 1
        if position != last {
            heap[position] = heap[last]
            positions[heap[position].id] = position
        }
        heap.removeLast()
        guard position < heap.count else { return }
        siftUp(position)
        siftDown(position)
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].expiry < heap[parent].expiry else { break }
            swapEntries(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < heap.count, heap[left].expiry < heap[smallest].expiry { smallest = left }
            if right < heap.count, heap[right].expiry < heap[smallest].expiry { smallest = right }
            guard smallest != parent else { return }
            swapEntries(parent, smallest)
            parent = smallest
        }
    }

    private mutating func swapEntries(_ a: Int, _ b: Int) {
        heap.swapAt(a, b)
        positions[heap[a].id] = a
        positions[heap[b].id] = b
    }
}
