import Maintenance
import ServiceSupport
import Testing

@Suite struct AutoCompactionTests {
    @Test func retentionIsReadAsEtcdReadsIt() throws {
        #expect(try AutoCompaction(mode: "periodic", retention: "0") == nil)
        #expect(try AutoCompaction(mode: "periodic", retention: "0s") == nil)
        #expect(try AutoCompaction(mode: "revision", retention: "0") == nil)
        #expect(try AutoCompaction(mode: "periodic", retention: "2") == .periodic(retention: .seconds(7200)))
        #expect(try AutoCompaction(mode: "periodic", retention: "5s") == .periodic(retention: .seconds(5)))
        #expect(try AutoCompaction(mode: "periodic", retention: "1h30m") == .periodic(retention: .seconds(5400)))
        #expect(try AutoCompaction(mode: "revision", retention: "1000") == .revision(retention: 1000))
        // etcd takes a duration in revision mode as a count of nanoseconds.
        #expect(try AutoCompaction(mode: "revision", retention: "5m") == .revision(retention: 300_000_000_000))
    }

    @Test func badValuesGetEtcdsMessages() {
        #expect(throws: AutoCompactionError.unknownMode("foo")) { try AutoCompaction(mode: "foo", retention: "1") }
        #expect(throws: AutoCompactionError.invalidRetention("abc", "invalid duration")) {
            try AutoCompaction(mode: "periodic", retention: "abc")
        }
        #expect(throws: AutoCompactionError.invalidRetention("-1", "missing unit in duration")) {
            try AutoCompaction(mode: "periodic", retention: "-1")
        }
        #expect("\(AutoCompactionError.invalidRetention("abc", "invalid duration"))"
            == "error parsing CompactionRetention: time: invalid duration \"abc\"")
    }

    @Test func goDurations() {
        #expect(GoDuration.nanoseconds("0") == 0)
        #expect(GoDuration.nanoseconds("1h30m") == 5_400_000_000_000)
        #expect(GoDuration.nanoseconds("250ms") == 250_000_000)
        #expect(GoDuration.nanoseconds("1.5s") == 1_500_000_000)
        #expect(GoDuration.nanoseconds("-2s") == -2_000_000_000)
        #expect(GoDuration.nanoseconds("10us") == 10_000)
        #expect(GoDuration.nanoseconds("") == nil)
        #expect(GoDuration.nanoseconds("5") == nil)
        #expect(GoDuration.nanoseconds("5x") == nil)
        #expect(GoDuration.nanoseconds("s") == nil)
        #expect(GoDuration.nanoseconds("99999999h") == nil)
    }

    /// Drives a schedule one tick at a time with the revision each tick sees; compactions succeed.
    private func run(_ schedule: inout some AutoCompactionSchedule, revisions: [Int64]) -> [(tick: Int, target: Int64)] {
        var compactions: [(Int, Int64)] = []
        for (index, revision) in revisions.enumerated() {
            let elapsed = schedule.tickInterval * (index + 1)
            if let target = schedule.tick(elapsed: elapsed, revision: revision) {
                compactions.append((index + 1, target))
                schedule.finished(revision: target, elapsed: elapsed, succeeded: true)
            }
        }
        return compactions
    }

    @Test func periodicCompactsToTheRevisionOfOneRetentionAgo() {
        // Retention 10 s: a sample each second, the first compaction at 10 s, then every 10 s.
        var schedule = PeriodicCompactionSchedule(retention: .seconds(10), startingRevision: 1)
        #expect(schedule.tickInterval == .seconds(1))
        // The revision grows by 10 a second: at tick t the store is at 1 + 10 t.
        let compactions = run(&schedule, revisions: (1...30).map { 1 + 10 * Int64($0) })
        #expect(compactions.map(\.tick) == [10, 20, 30])
        // At 10 s the oldest sample kept is the starting revision; at 20 s the one taken at 9 s, ...
        #expect(compactions.map(\.target) == [1, 91, 191])
    }

    @Test func periodicOverAnHourSamplesEverySixMinutesAndCompactsHourly() {
        var schedule = PeriodicCompactionSchedule(retention: .seconds(7200), startingRevision: 5)
        #expect(schedule.tickInterval == .seconds(360))
        let compactions = run(&schedule, revisions: (1...40).map { Int64($0) * 100 })
        // First after the whole retention (2 h = tick 20), then every hour (10 ticks).
        #expect(compactions.map(\.tick) == [20, 30, 40])
        // Samples cover 2 h: at tick 30 the oldest kept is from tick 9 (revision 900).
        #expect(compactions.map(\.target) == [5, 900, 1900])
    }

    @Test func periodicRetriesAFailedCompactionAtTheNextTick() {
        var schedule = PeriodicCompactionSchedule(retention: .seconds(10), startingRevision: 1)
        var ticks: [Int] = []
        for tick in 1...25 {
            let elapsed = Duration.seconds(tick)
            if schedule.tick(elapsed: elapsed, revision: Int64(tick) * 10) != nil {
                ticks.append(tick)
                schedule.finished(revision: 0, elapsed: elapsed, succeeded: tick != 10)
            }
        }
        // Fails at 10 s, retried at 11 s; the next one is a whole interval after that success.
        #expect(ticks == [10, 11, 21])
    }

    @Test func revisionModeKeepsTheLastRetentionRevisions() {
        var schedule = RevisionCompactionSchedule(retention: 3)
        #expect(schedule.tickInterval == .seconds(300))
        // Not positive: nothing. Then 11 - 3; the same target again is skipped; then 20 - 3.
        let compactions = run(&schedule, revisions: [2, 11, 11, 20])
        #expect(compactions.map(\.target) == [8, 17])
    }
}
