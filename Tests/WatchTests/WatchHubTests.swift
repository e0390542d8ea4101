import EtceteraAPI
import Foundation
import Testing
import Watch

@Suite("Watch hub")
struct WatchHubTests {
    @Test("a watcher created at the head gets later events on its key only, each in its own response")
    func liveEvents() async throws {
        let harness = try HubHarness()
        harness.open(1)
        try harness.add(1, key: "foo")
        try await harness.put("foo", "a")
        try await harness.put("bar", "b")
        try await harness.put("foo", "c")
        try harness.pump()
        let responses = try harness.responses(1)
        #expect(responses.count == 3)
        #expect(responses[0].created && responses[0].watchID == 0 && responses[0].header.revision == 1)
        #expect(responses[1].header.revision == 2 && responses[2].header.revision == 4)
        #expect(try harness.events(1) == ["0:2:PUT:foo", "0:4:PUT:foo"])
    }

    @Test("a past start revision replays history, then continues live with no gap and no repeat")
    func replayThenLive() async throws {
        let harness = try HubHarness()
        for value in 1...5 { try await harness.put("k\(value % 2)", "v\(value)") }
        harness.deliverLive()
        harness.open(1)
        try harness.add(1, key: "k", end: "l", start: 3)
        // Live revisions arrive before the history answer: the hand-over must still be exact.
        try await harness.put("k1", "late-1")
        try await harness.put("k0", "late-2")
        harness.deliverLive()
        try harness.answerHistory()
        try await harness.put("k1", "after")
        try harness.pump()
        #expect(try harness.events(1) == ["0:3:PUT:k0", "0:4:PUT:k1", "0:5:PUT:k0", "0:6:PUT:k1", "0:7:PUT:k1", "0:8:PUT:k0", "0:9:PUT:k1"])
    }

    @Test("a watcher that starts further back than the history request in flight still gets every event")
    func resumedBehindFetchInFlight() async throws {
        let harness = try HubHarness()
        for value in 1...9 { try await harness.put("k", "v\(value)") }
        harness.deliverLive()
        harness.open(1)
        // The first watcher makes the hub ask for history from revision 7 …
        try harness.add(1, key: "k", start: 7, id: 1)
        #expect(harness.pendingFetches == 1)
        // … and a session moved from a dead process resumes a watcher at 3 before the answer comes.
        try harness.add(1, key: "k", start: 3, id: 2) { $0.resumed = true }
        try harness.pump()
        #expect(try harness.events(1).filter { $0.hasPrefix("2:") } == (3...10).map { "2:\($0):PUT:k" })
        #expect(try harness.events(1).filter { $0.hasPrefix("1:") } == (7...10).map { "1:\($0):PUT:k" })
    }

    @Test("a start revision below the compaction point is cancelled with the compact revision")
    func compactedStart() async throws {
        let harness = try HubHarness()
        for value in 1...4 { try await harness.put("a", "\(value)") }
        var compaction = Etcdserverpb_CompactionRequest()
        compaction.revision = 4
        compaction.physical = true
        _ = try await harness.store.write(.compact(compaction))
        try harness.pump()
        harness.open(1)
        try harness.add(1, key: "a", start: 2)
        try harness.add(1, key: "a", start: 4)
        try harness.pump()
        let responses = try harness.responses(1)
        let cancelled = try #require(responses.first { $0.compactRevision != 0 })
        #expect(cancelled.watchID == 0 && cancelled.canceled && cancelled.compactRevision == 4 && cancelled.header.revision == 0)
        #expect(try harness.events(1) == ["1:4:PUT:a", "1:5:PUT:a"])
    }

    @Test("a create that knows the store is further than the event stream has come starts after that revision and names it, as etcd's")
    func createAheadOfTheStream() async throws {
        let harness = try HubHarness()
        harness.open(1)
        try await harness.put("w", "1")
        try await harness.put("w", "2")
        // The gateway saw revision 3 (the second put's answer); the stream has not brought it yet.
        try harness.add(1, key: "w") { $0.storeRevision = 3 }
        try harness.pump()
        try await harness.put("w", "3")
        try harness.pump()
        let created = try #require(try harness.responses(1).first { $0.created })
        #expect(created.header.revision == 3)
        #expect(try harness.events(1) == ["0:4:PUT:w"], "the writes before the create are not reported")
    }

    @Test("a compacted start is cancelled with the store's compaction point as it is now, not the one heard last")
    func compactedStartReportsCurrentCompaction() async throws {
        let harness = try HubHarness()
        for value in 1...8 { try await harness.put("a", "\(value)") }
        try harness.pump()
        for revision in [Int64(4), 7] {
            var compaction = Etcdserverpb_CompactionRequest()
            compaction.revision = revision
            compaction.physical = true
            _ = try await harness.store.write(.compact(compaction))
            // A heartbeat between the two compactions, as the store sends them.
            if revision == 4 { harness.hub.storeStatus(revision: harness.store.currentRevision) }
        }
        try harness.pump()
        harness.open(1)
        try harness.add(1, key: "a", start: 2)
        try harness.pump()
        let cancelled = try #require(try harness.responses(1).first { $0.compactRevision != 0 })
        #expect(cancelled.canceled && cancelled.compactRevision == 7)
    }

    @Test("watchers of one key leave in any order (cancels, a closed session) and the rest keep getting events")
    func leavingWatchersOfOneKey() async throws {
        let harness = try HubHarness()
        harness.open(1)
        harness.open(2)
        for _ in 0..<6 { try harness.add(1, key: "k") }
        for _ in 0..<3 { try harness.add(2, key: "k") }
        for watchID in [Int64(2), 0, 5] {
            var cancel = Etcetera_Watch_CancelWatcher()
            cancel.session = 1
            cancel.watchID = watchID
            try harness.hub.cancelWatcher(cancel)
        }
        harness.hub.closeSession(2)
        try await harness.put("k", "v")
        try harness.pump()
        #expect(try harness.events(1).sorted() == ["1:2:PUT:k", "3:2:PUT:k", "4:2:PUT:k"])
        try harness.add(1, key: "k")
        try await harness.put("k", "w")
        try harness.pump()
        #expect(try harness.events(1).filter { $0.contains(":3:") }.sorted() == ["1:3:PUT:k", "3:3:PUT:k", "4:3:PUT:k", "6:3:PUT:k"])
    }

    @Test("duplicate ids and empty ranges are refused as etcd refuses them; auto ids count on")
    func creationErrors() throws {
        let harness = try HubHarness()
        harness.open(1)
        try harness.add(1, key: "a")
        try harness.add(1, key: "b")
        try harness.add(1, key: "c", id: 1)
        try harness.add(1, key: "z", end: "a")
        var cancel = Etcetera_Watch_CancelWatcher()
        cancel.session = 1
        cancel.watchID = 1
        try harness.hub.cancelWatcher(cancel)
        try harness.add(1, key: "d")
        let responses = try harness.responses(1)
        #expect(responses.map(\.watchID) == [0, 1, -1, -1, 1, 2])
        #expect(responses[2].cancelReason == "mvcc: duplicate watch ID provided on the WatchStream")
        #expect(responses[3].cancelReason == "mvcc: watcher range is empty")
        #expect(responses[2].created && responses[2].canceled)
        #expect(responses[4].canceled && !responses[4].created)
    }

    @Test("a watcher re-created on another process that cannot be served ends as a cancel of its id, never a second created")
    func refusedResumption() throws {
        let harness = try HubHarness()
        harness.open(1)
        try harness.add(1, key: "a", id: 4)
        try harness.add(1, key: "b", id: 4) { $0.resumed = true }
        try harness.add(1, key: "z", end: "a", id: 5) { $0.resumed = true }
        let responses = try harness.responses(1)
        #expect(responses.map(\.watchID) == [4, 4, 5])
        #expect(responses.map(\.created) == [true, false, false])
        #expect(responses.dropFirst().allSatisfy { $0.canceled })
        #expect(responses[1].cancelReason == "mvcc: duplicate watch ID provided on the WatchStream")
        #expect(responses[2].cancelReason == "mvcc: watcher range is empty")
        #expect(harness.outputs[1]?.suffix(2).allSatisfy { $0.removed && !$0.created } == true, "the gateway forgets them")
    }

    @Test("filters drop event types; previous values only for watchers that asked")
    func filtersAndPreviousValues() async throws {
        let harness = try HubHarness()
        harness.open(1)
        try harness.add(1, key: "x") { $0.noPut = true }
        try harness.add(1, key: "x") { $0.prevKv = true }
        try harness.add(1, key: "x")
        try await harness.put("x", "1")
        try await harness.put("x", "2")
        try await harness.delete("x")
        try harness.pump()
        #expect(try harness.events(1) == [
            "1:2:PUT:x", "2:2:PUT:x", "1:3:PUT:x", "2:3:PUT:x", "0:4:DELETE:x", "1:4:DELETE:x", "2:4:DELETE:x",
        ])
        let responses = try harness.responses(1).filter { !$0.events.isEmpty }
        let withPrevious = responses.filter { $0.watchID == 1 }.flatMap(\.events)
        #expect(withPrevious.map { String(decoding: $0.prevKv.value, as: UTF8.self) } == ["", "1", "2"])
        #expect(responses.filter { $0.watchID != 1 }.flatMap(\.events).allSatisfy { !$0.hasPrevKv })
    }

    @Test("a session over its delivery window is paused, then catches up in order once credited")
    func slowConsumerCatchesUp() async throws {
        var configuration = WatchHub.Configuration()
        // Room for the created response and a few events, not for ten.
        configuration.sessionWindow = 400
        let harness = try HubHarness(configuration: configuration)
        harness.open(1)
        harness.open(2)
        try harness.add(1, key: "k")
        try harness.add(2, key: "k")
        for value in 1...10 { try await harness.put("k", "\(value)") }
        try harness.pump()
        let beforeCredit = try harness.events(1).count
        #expect((1..<10).contains(beforeCredit))
        #expect(try harness.events(2).count == beforeCredit)
        var credit = Etcetera_Watch_Credit()
        credit.session = 1
        credit.deliveredCharge = Int64(harness.outputs[1, default: []].reduce(0) { $0 + $1.windowCharge })
        try harness.hub.credit(credit)
        try harness.pump()
        let revisions = try harness.events(1).map { $0.split(separator: ":")[1] }
        #expect(revisions == (2...11).map { Substring(String($0)) })
        #expect(try harness.events(2).count == beforeCredit)
        // A credit at the extremes neither traps nor unpauses a session it does not cover.
        credit.session = 2
        credit.deliveredCharge = .min
        try harness.hub.credit(credit)
        try harness.pump()
        #expect(try harness.events(2).count == beforeCredit)
    }

    @Test("watchers catching up from one history batch each get exactly their own events, alike ones and unlike ones")
    func catchUpAnswersEachWatcher() async throws {
        let harness = try HubHarness()
        harness.open(1)
        try await harness.put("h", "1")
        try await harness.put("hz", "1")
        try await harness.put("h", "2")
        try await harness.delete("h")
        try harness.pump()
        try harness.add(1, key: "h", start: 2)
        try harness.add(1, key: "h", start: 2)
        try harness.add(1, key: "h", start: 2) { $0.prevKv = true }
        try harness.add(1, key: "h", start: 3)
        try harness.add(1, key: "h", end: "i", start: 2) { $0.noDelete = true }
        try harness.pump()
        let responses = try harness.responses(1).filter { !$0.events.isEmpty }
        func events(of watcher: Int64) -> [String] {
            responses.filter { $0.watchID == watcher }.flatMap(\.events).map {
                "\($0.kv.modRevision):\($0.type == .put ? "PUT" : "DELETE"):\(String(decoding: $0.kv.key, as: UTF8.self)):\(String(decoding: $0.prevKv.value, as: UTF8.self))"
            }
        }
        #expect(events(of: 0) == ["2:PUT:h:", "4:PUT:h:", "5:DELETE:h:"])
        #expect(events(of: 1) == events(of: 0))
        #expect(events(of: 2) == ["2:PUT:h:", "4:PUT:h:1", "5:DELETE:h:2"])
        #expect(events(of: 3) == ["4:PUT:h:", "5:DELETE:h:"])
        #expect(events(of: 4) == ["2:PUT:h:", "3:PUT:hz:", "4:PUT:h:"])
    }

    @Test("a gap in the live stream is filled from history")
    func gapIsReplayed() async throws {
        let harness = try HubHarness()
        harness.open(1)
        try harness.add(1, key: "g")
        try await harness.put("g", "1")
        harness.loseLive()
        try await harness.put("g", "2")
        try harness.pump()
        #expect(try harness.events(1) == ["0:2:PUT:g", "0:3:PUT:g"])
    }

    @Test("a store heartbeat past the last revision seen triggers a replay")
    func heartbeatRevealsLoss() async throws {
        let harness = try HubHarness()
        harness.open(1)
        try harness.add(1, key: "h")
        try await harness.put("h", "1")
        harness.loseLive()
        harness.hub.storeStatus(revision: 2)
        try harness.pump()
        #expect(try harness.events(1) == ["0:2:PUT:h"])
    }

    @Test("large responses are split into fragments for watchers that asked for them")
    func fragments() async throws {
        let harness = try HubHarness()
        for index in 0..<4 { try await harness.put("f\(index)", String(repeating: "v", count: 120)) }
        harness.deliverLive()
        harness.open(1, maxResponseBytes: 300)
        // History comes in one response with four events, over the limit.
        try harness.add(1, key: "f", end: "g", start: 2) { $0.fragment = true }
        try harness.pump()
        let responses = try harness.responses(1).filter { !$0.events.isEmpty }
        #expect(responses.count > 1)
        #expect(responses.dropLast().allSatisfy(\.fragment) && responses.last?.fragment == false)
        #expect(responses.flatMap(\.events).count == 4)
    }

    @Test("progress notifications go to quiet watchers that asked for them")
    func progressNotify() async throws {
        let harness = try HubHarness()
        harness.open(1)
        try harness.add(1, key: "p") { $0.progressNotify = true }
        try harness.add(1, key: "q") { $0.progressNotify = true }
        try harness.add(1, key: "r")
        try await harness.put("p", "1")
        try harness.pump()
        harness.hub.progressTick()
        harness.hub.progressTick()
        let progress = try harness.responses(1).filter { !$0.created && $0.events.isEmpty }
        #expect(progress.first?.watchID == 1)
        #expect(progress.dropFirst().map(\.watchID).sorted() == [0, 1])
        #expect(progress.allSatisfy { $0.header.revision == 2 })
    }

    @Test("closing a session, or not keeping it, removes its watchers")
    func sessionLifetime() throws {
        let harness = try HubHarness()
        harness.open(1)
        harness.open(2)
        try harness.add(1, key: "a")
        try harness.add(2, key: "a")
        harness.hub.closeSession(1)
        #expect(harness.hub.watcherCount == 1)
        harness.hub.keep([2], now: .now + .seconds(5))
        #expect(harness.hub.closeAbandonedSessions(now: .now + .seconds(11)).isEmpty)
        #expect(harness.hub.closeAbandonedSessions(now: .now + .seconds(16)) == [2])
        #expect(throws: WatchHub.Failure.unknownSession) { try harness.add(2, key: "a") }
    }
}
