import Bus
import Dispatch
import Foundation
import Synchronization
import Testing

extension BusTests {
    @Suite("BusSerialLine: a service's serial queue behind a bounded line; whatever is let in runs")
    struct SerialLine {
        /// A server whose handler submits every request to a `BusSerialLine`; the work waits at the
        /// gate (while it is closed), notes its payload and answers with it.
        static func harness(waitingLimit: Int, byteLimit: Int) throws -> GatedLineHarness<BusSerialLine> {
            try GatedLineHarness(BusSerialLine(queue: DispatchQueue(label: "test-serial"), waitingLimit: waitingLimit, byteLimit: byteLimit)) {
                $0.submit($1, $2)
            }
        }

        @Test("while one request runs, up to the limit wait; more fail at once with overloaded; the waiting run in order",
              .timeLimit(.minutes(1)))
        func overload() async throws {
            let harness = try Self.harness(waitingLimit: 2, byteLimit: 1 << 20)
            defer { harness.close() }
            let client = harness.client
            let held = Task { try await client.request([0], timeout: .seconds(30)) }
            #expect(await eventually { harness.started.load(ordering: .relaxed) == 1 })
            let first = Task { try await client.request([1], timeout: .seconds(30)) }
            #expect(await eventually { harness.line.waitingCount == 1 })
            let second = Task { try await client.request([2], timeout: .seconds(30)) }
            #expect(await eventually { harness.line.waitingCount == 2 })
            for _ in 0..<3 {
                let (error, _) = await timedFailure { () async throws(BusError) in try await client.request([9], timeout: .seconds(30)) }
                #expect(error == .overloaded)
            }
            harness.open()
            #expect(try await held.value == [0])
            #expect(try await first.value == [1])
            #expect(try await second.value == [2])
            #expect(harness.ran.withLock { $0 } == [[0], [1], [2]], "only the admitted requests ran, in arrival order")
            let counts = harness.line.counts
            #expect(counts.ran == 3 && counts.overloaded == 3 && counts.expired == 0, "\(counts)")
            #expect(try await client.request([4], timeout: .seconds(10)) == [4], "the line goes on serving")
        }

        @Test("the waiting bytes are bounded too, though one request alone is always let in", .timeLimit(.minutes(1)))
        func byteLimit() async throws {
            let harness = try Self.harness(waitingLimit: 100, byteLimit: 1000)
            defer { harness.close() }
            let client = harness.client
            let held = Task { try await client.request([0], timeout: .seconds(30)) }
            #expect(await eventually { harness.started.load(ordering: .relaxed) == 1 })
            let large = Task { try await client.request([UInt8](repeating: 1, count: 5000), timeout: .seconds(30)) }
            #expect(await eventually { harness.line.waitingCount == 1 }, "a request over the limit is let in when none waits")
            let (error, _) = await timedFailure { () async throws(BusError) in
                try await client.request([UInt8](repeating: 2, count: 10), timeout: .seconds(30))
            }
            #expect(error == .overloaded, "5000 bytes already wait, over the 1000")
            harness.open()
            #expect(try await held.value == [0])
            #expect(try await large.value.count == 5000)
        }

        @Test("a request whose deadline passes while it waits still runs (a late keep-alive still renews)", .timeLimit(.minutes(1)))
        func lateRequestRuns() async throws {
            let harness = try Self.harness(waitingLimit: 8, byteLimit: 1 << 20)
            defer { harness.close() }
            let client = harness.client
            let held = Task { try await client.request([1], timeout: .seconds(30)) }
            #expect(await eventually { harness.started.load(ordering: .relaxed) == 1 })
            #expect(try await requestExpiredWhileWaiting(client) { harness.line.waitingCount } == .deadlineExceeded)
            harness.open()
            #expect(try await held.value == [1])
            #expect(await eventually { harness.ran.withLock { $0 } == [[1], [2]] }, "the late request ran after the first")
            #expect(harness.line.counts.expired == 0)
        }
    }
}
