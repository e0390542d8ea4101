import Bus
import Dispatch
import Foundation
import Synchronization
import Testing

extension BusTests {
    @Suite("BusBatchLine: batches off the bus thread, a bounded line, expired requests dropped unrun")
    struct BatchLine {
        /// What the batches of a `Harness` did, and the gate they wait at while it is closed.
        final class Progress: Sendable {
            let gate = WorkGate()
            let batchesStarted = Atomic<Int>(0)
            let processed = Atomic<Int>(0)

            func run(_ batch: [BusIncomingRequest]) {
                batchesStarted.add(1, ordering: .relaxed)
                gate.pass()
                for request in batch { request.reply(request.payload) }
                processed.add(batch.count, ordering: .relaxed)
            }
        }

        /// A server whose handler puts every request in `line`; each batch waits at the gate (while
        /// it is closed) and answers every request with its payload.
        final class Harness: @unchecked Sendable {
            let directory: TemporaryDirectory
            let server: BusServer
            let client: BusClient
            let line: BusBatchLine<BusIncomingRequest>
            let progress = Progress()

            init(waitingLimit: Int, byteLimit: Int) throws {
                directory = try TemporaryDirectory()
                let endpoint = directory.endpoint("batch")
                server = try BusServer(bind: endpoint, logger: testLogger())
                client = try BusClient(connect: endpoint, logger: testLogger())
                line = BusBatchLine(label: "test-batch", waitingLimit: waitingLimit, byteLimit: byteLimit, process: progress.run)
                Task { [server, line] in
                    try await server.run { line.append($0, $0) } afterEachBatch: { line.startIfWaiting() }
                }
            }

            var batchesStarted: Int { progress.batchesStarted.load(ordering: .relaxed) }
            var processed: Int { progress.processed.load(ordering: .relaxed) }

            func open() {
                progress.gate.open()
            }

            func close() {
                open()
                client.close()
                server.close()
            }
        }

        @Test("while a batch runs, the next one gathers up to the limit; more fail at once with overloaded", .timeLimit(.minutes(1)))
        func overload() async throws {
            let harness = try Harness(waitingLimit: 2, byteLimit: 1 << 20)
            defer { harness.close() }
            let client = harness.client
            let held = Task { try await client.request([0], timeout: .seconds(30)) }
            #expect(await eventually { harness.batchesStarted == 1 })
            let waiting = (1...2).map { index in Task { try await client.request([UInt8(index)], timeout: .seconds(30)) } }
            #expect(await eventually { harness.line.waitingCount == 2 })
            for _ in 0..<3 {
                let (error, _) = await timedFailure { () async throws(BusError) in try await client.request([9], timeout: .seconds(30)) }
                #expect(error == .overloaded)
            }
            harness.open()
            #expect(try await held.value == [0])
            for (index, task) in waiting.enumerated() {
                #expect(try await task.value == [UInt8(index + 1)], "the two waiting ran as the next batch")
            }
            #expect(harness.processed == 3, "only the admitted requests ran")
            #expect(harness.line.counts.overloaded == 3)
            #expect(try await client.request([4], timeout: .seconds(10)) == [4], "the line goes on serving")
        }

        @Test("the waiting bytes are bounded too, though one request alone is always taken", .timeLimit(.minutes(1)))
        func byteLimit() async throws {
            let harness = try Harness(waitingLimit: 100, byteLimit: 1000)
            defer { harness.close() }
            let client = harness.client
            let held = Task { try await client.request([UInt8](repeating: 1, count: 5000), timeout: .seconds(30)) }
            #expect(await eventually { harness.batchesStarted == 1 }, "a request over the limit runs when alone")
            let fits = Task { try await client.request([UInt8](repeating: 2, count: 600), timeout: .seconds(30)) }
            #expect(await eventually { harness.line.waitingCount == 1 })
            let (error, _) = await timedFailure { () async throws(BusError) in
                try await client.request([UInt8](repeating: 3, count: 600), timeout: .seconds(30))
            }
            #expect(error == .overloaded, "600 more bytes would pass the 1000 waiting")
            harness.open()
            #expect(try await held.value.count == 5000)
            #expect(try await fits.value.count == 600)
        }

        @Test("a request whose deadline passes while it waits is dropped without running", .timeLimit(.minutes(1)))
        func expiredWhileWaiting() async throws {
            let harness = try Harness(waitingLimit: 8, byteLimit: 1 << 20)
            defer { harness.close() }
            let client = harness.client
            let held = Task { try await client.request([1], timeout: .seconds(30)) }
            #expect(await eventually { harness.batchesStarted == 1 })
            #expect(try await requestExpiredWhileWaiting(client) { harness.line.waitingCount } == .deadlineExceeded)
            harness.open()
            #expect(try await held.value == [1])
            #expect(await eventually { harness.line.counts.expired == 1 }, "\(harness.line.counts)")
            #expect(harness.processed == 1, "the expired request never reached a batch")
            #expect(try await client.request([3], timeout: .seconds(10)) == [3], "the line goes on serving")
        }
    }
}
