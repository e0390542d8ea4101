import Lease
import Storage
import Testing

@Suite("Lessor")
struct LessorTests {
    private let start = ContinuousClock.now

    private func lessor(_ storage: any KeyValueStorage = InMemoryStorage(), at time: ContinuousClock.Instant? = nil,
                        configure: (inout Lessor.Configuration) -> Void = { _ in }) throws -> Lessor {
        var configuration = Lessor.Configuration()
        configure(&configuration)
        return try Lessor(
            storage: storage, configuration: configuration,
            idGenerator: LeaseIDGenerator(memberID: 0x1234, startMilliseconds: 1_700_000_000_000), now: time ?? start)
    }

    @Test("grant: chosen and requested IDs, etcd's minimum TTL, and its errors for an existing ID and a too large TTL")
    func grant() throws {
        let leases = try lessor()
        let chosen = try leases.grant(id: 0, ttl: 60, now: start)
        #expect(chosen.id > 0 && chosen.grantedTTL == 60)
        #expect(UInt64(chosen.id) >> 48 == 0x1234, "the member's bits lead, as in etcd's IDs")
        let requested = try leases.grant(id: 42, ttl: 1, now: start)
        #expect(requested.id == 42 && requested.grantedTTL == 2, "TTLs under the minimum are raised to it")
        #expect(throws: Lessor.Failure.exists) { try leases.grant(id: 42, ttl: 10, now: start) }
        #expect(throws: Lessor.Failure.ttlTooLarge) { try leases.grant(id: 43, ttl: 9_000_000_001, now: start) }
        #expect(try leases.grant(id: 44, ttl: 9_000_000_000, now: start).grantedTTL == 9_000_000_000)
        let next = try leases.grant(id: 0, ttl: 5, now: start)
        #expect(next.id != chosen.id && next.id > 0)
        #expect(leases.leaseIDs == [42, 44, chosen.id, next.id].sorted())
    }

    @Test("time to live counts down in whole seconds; renew restores the full TTL; an expired lease is not found")
    func timeToLiveAndRenew() throws {
        let leases = try lessor()
        try leases.grant(id: 7, ttl: 10, now: start)
        #expect(try leases.timeToLive(7, now: start + .milliseconds(3500)) == (remaining: 6, granted: 10))
        #expect(try leases.renew(7, now: start + .seconds(8)) == 10)
        #expect(try leases.timeToLive(7, now: start + .seconds(9)) == (remaining: 9, granted: 10))
        #expect(throws: Lessor.Failure.notFound) { try leases.renew(7, now: start + .seconds(18)) }
        #expect(throws: Lessor.Failure.notFound) { try leases.timeToLive(7, now: start + .seconds(18)) }
        #expect(throws: Lessor.Failure.notFound) { try leases.renew(8, now: start) }
    }

    @Test("expired leases are handed out once, earliest first, renewed ones only at their new expiry")
    func expiry() throws {
        let leases = try lessor()
        try leases.grant(id: 1, ttl: 5, now: start)
        try leases.grant(id: 2, ttl: 3, now: start)
        try leases.grant(id: 3, ttl: 4, now: start)
        _ = try leases.renew(3, now: start + .seconds(2))
        #expect(leases.nextExpiry == start + .seconds(3))
        #expect(leases.takeExpired(now: start + .milliseconds(2999), limit: 10).isEmpty)
        #expect(leases.takeExpired(now: start + .seconds(5), limit: 10) == [2, 1])
        #expect(leases.takeExpired(now: start + .seconds(5), limit: 10).isEmpty, "each is handed out once")
        #expect(throws: Lessor.Failure.notFound) { try leases.renew(1, now: start + .seconds(5)) }
        #expect(leases.takeExpired(now: start + .seconds(6), limit: 1) == [3])
        leases.abandonRevoke(2)
        #expect(leases.takeExpired(now: start + .seconds(7), limit: 10) == [2], "a failed revoke is retried")
        try leases.finishRevoke(2)
        #expect(leases.leaseIDs == [1, 3])
    }

    @Test("revoking stops renewals at once; a finished revoke is permanent, across a restart")
    func revoke() throws {
        let storage = InMemoryStorage()
        let leases = try lessor(storage)
        try leases.grant(id: 5, ttl: 100, now: start)
        try leases.grant(id: 6, ttl: 100, now: start)
        try leases.beginRevoke(5)
        #expect(throws: Lessor.Failure.notFound) { try leases.renew(5, now: start) }
        try leases.finishRevoke(5)
        #expect(throws: Lessor.Failure.notFound) { try leases.beginRevoke(5) }
        let reopened = try lessor(storage, at: start + .seconds(50))
        #expect(reopened.leaseIDs == [6])
    }

    @Test("with checkpoints a restart resumes a long lease from its recorded time left; a short one, a renewed one and one never checkpointed get their full TTL")
    func checkpoints() throws {
        let storage = InMemoryStorage()
        let tenSeconds: (inout Lessor.Configuration) -> Void = { $0.checkpointInterval = .seconds(10) }
        let leases = try lessor(storage, configure: tenSeconds)
        try leases.grant(id: 1, ttl: 1000, now: start)
        try leases.grant(id: 2, ttl: 1000, now: start)
        try leases.grant(id: 3, ttl: 5, now: start)
        #expect(try leases.checkpoint(now: start + .seconds(400)) == 2, "the two long leases")
        #expect(try leases.renew(2, now: start + .seconds(401)) == 1000)
        try leases.grant(id: 4, ttl: 1000, now: start + .seconds(450))
        let later = start + .seconds(3000)
        let restarted = try lessor(storage, at: later, configure: tenSeconds)
        // Lease 1 had 600 s left at the checkpoint, plus the one-second extension.
        #expect(try restarted.timeToLive(1, now: later) == (remaining: 601, granted: 1000))
        #expect(try restarted.timeToLive(2, now: later) == (remaining: 1001, granted: 1000), "renewing cleared its checkpoint")
        #expect(try restarted.timeToLive(3, now: later) == (remaining: 6, granted: 5))
        #expect(try restarted.timeToLive(4, now: later) == (remaining: 1001, granted: 1000))
        // Renewed after the restart, lease 1 loses its checkpoint for the next restart too.
        #expect(try restarted.renew(1, now: later) == 1000)
        let again = try lessor(storage, at: later, configure: tenSeconds)
        #expect(try again.timeToLive(1, now: later) == (remaining: 1001, granted: 1000))
    }

    @Test("after a restart every lease gets its full TTL plus the extension, whatever time had passed")
    func restore() throws {
        let storage = InMemoryStorage()
        let leases = try lessor(storage)
        try leases.grant(id: 1, ttl: 10, now: start)
        try leases.grant(id: 2, ttl: 30, now: start)
        // A revoke begun but not finished before the crash is still a lease after it.
        try leases.beginRevoke(2)
        let later = start + .seconds(25)
        let reopened = try lessor(storage, at: later)
        #expect(reopened.leaseIDs == [1, 2])
        #expect(try reopened.timeToLive(1, now: later) == (remaining: 11, granted: 10))
        #expect(reopened.takeExpired(now: later + .seconds(10), limit: 10).isEmpty)
        #expect(reopened.takeExpired(now: later + .seconds(11), limit: 10) == [1])
    }

    @Test("leases recorded from a kv snapshot open as granted leases, with their TTLs")
    func recordedLeases() throws {
        let storage = InMemoryStorage()
        try Lessor.record([(id: 7, ttl: 60), (id: 9, ttl: 5)], in: storage)
        let leases = try lessor(storage)
        #expect(leases.leaseIDs == [7, 9])
        #expect(leases.allLeases.map(\.grantedTTL) == [60, 5])
        #expect(try leases.timeToLive(9, now: start + .seconds(2)) == (remaining: 4, granted: 5))
        #expect(throws: Lessor.Failure.exists) { try leases.grant(id: 7, ttl: 10, now: start) }
    }

    @Test("a pile of restored leases expiring together is spread to three quarters of the revoke rate per second")
    func restoreSpreadsExpiries() throws {
        let storage = InMemoryStorage()
        let leases = try lessor(storage) { $0.revokeRate = 40 }
        for id in 1...100 { try leases.grant(id: Int64(id), ttl: 10, now: start) }
        let reopened = try lessor(storage, at: start) { $0.revokeRate = 40 }
        var perSecond: [Int] = []
        for second in 11...20 {
            perSecond.append(reopened.takeExpired(now: start + .seconds(second), limit: 1000).count)
        }
        #expect(perSecond.reduce(0, +) == 100)
        #expect(perSecond.allSatisfy { $0 <= 31 }, "\(perSecond)")
    }

    @Test("the expiry queue holds one entry per lease however fast keep-alives come, and expiries stay in order")
    func oneQueueEntryPerLease() throws {
        let leases = try lessor()
        for id in 1...3 { try leases.grant(id: Int64(id), ttl: 10, now: start) }
        for renewal in 1...100_000 {
            _ = try leases.renew(Int64(renewal % 3 + 1), now: start + .microseconds(renewal))
        }
        #expect(leases.queuedExpiryCount == 3)
        // The last renewals: lease 3 at 99,998 µs, 1 at 99,999 µs, 2 at 100,000 µs.
        #expect(leases.nextExpiry == start + .seconds(10) + .microseconds(99_998))
        #expect(leases.takeExpired(now: start + .seconds(11), limit: 10) == [3, 1, 2])
        #expect(leases.queuedExpiryCount == 0, "taken leases leave the queue")
        leases.abandonRevoke(1)
        #expect(leases.queuedExpiryCount == 1)
        try leases.finishRevoke(2)
        #expect(leases.queuedExpiryCount == 1)
        #expect(leases.takeExpired(now: start + .seconds(11), limit: 10) == [1])
    }
}
