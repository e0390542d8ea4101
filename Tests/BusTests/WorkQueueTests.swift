import Bus
import Dispatch
import Foundation
import Synchronization
import Testing

extension BusTests {
    @Suite("BusWorkQueue: bounded work, overload answered at once, expired requests dropped unrun")
    struct WorkQueue {
        /// A server whose handler hands every request to a `BusWorkQueue`; the work waits at the gate
        /// (while it is closed) and answers with the payload.
        static func harness(concurrency: Int, waitingLimit: Int) throws -> GatedLineHarness<BusWorkQueue> {
            try GatedLineHarness(BusWorkQueue(label: "test-work", concurrency: concurrency, waitingLimit: waitingLimit)) {
                $0.submit($1, $2)
            }
        }

        @Test("with every worker busy and the line full, further requests fail at once with overloaded and never run", .timeLimit(.minutes(1)))
        func overload() async throws {
            let harness = try Self.harness(concurrency: 1, waitingLimit: 2)
            defer { harness.close() }
            let client = harness.client
            // One running (held at the gate) and two waiting fill the queue.
            let admitted = (0..<3).map { index in
                Task { try await client.request([UInt8(index)], timeout: .seconds(30)) }
            }
            #expect(await eventually(within: .seconds(10)) {
                harness.started.load(ordering: .relaxed) == 1 && harness.line.waitingCount == 2
            })
            for _ in 0..<5 {
                let (error, _) = await timedFailure { () async throws(BusError) in try await client.request([9], timeout: .seconds(30)) }
                #expect(error == .overloaded)
            }
            harness.open()
            for (index, task) in admitted.enumerated() {
                #expect(try await task.value == [UInt8(index)])
            }
            #expect(await eventually { harness.line.counts.ran == 3 }, "\(harness.line.counts)")
            #expect(harness.ranCount == 3, "only the admitted requests ran")
            #expect(harness.line.counts.overloaded == 5)
        }

        @Test("a request whose deadline passes while it waits is dropped without running", .timeLimit(.minutes(1)))
        func expiredWhileWaiting() async throws {
            let harness = try Self.harness(concurrency: 1, waitingLimit: 8)
            defer { harness.close() }
            let client = harness.client
            let held = Task { try await client.request([1], timeout: .seconds(30)) }
            #expect(await eventually { harness.started.load(ordering: .relaxed) == 1 })
            #expect(try await requestExpiredWhileWaiting(client) { harness.line.waitingCount } == .deadlineExceeded)
            harness.open()
            #expect(try await held.value == [1])
            #expect(await eventually { harness.line.counts.expired == 1 }, "\(harness.line.counts)")
            #expect(harness.ranCount == 1, "the expired request's work never ran")
            #expect(try await client.request([3], timeout: .seconds(10)) == [3], "the queue goes on serving")
        }
    }
}
