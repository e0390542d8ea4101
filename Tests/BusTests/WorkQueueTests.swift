import Bus
import Dispatch
import Foundation
import Synchronization
import Testing

extension BusTests {
    @Suite("BusWorkQueue: bounded work, overload answered at once, expired requests dropped unrun")
    struct WorkQueue {
        /// A server whose handler hands every request to `queue`; the work waits for `gate` (while
        /// it is closed) and answers with the payload. Returns the server, a client, and the number
        /// of requests whose work ran.
        final class Harness: @unchecked Sendable {
            let directory: TemporaryDirectory
            let server: BusServer
            let client: BusClient
            let queue: BusWorkQueue
            let gate = DispatchSemaphore(value: 0)
            let started = Atomic<Int>(0)
            let worked = Atomic<Int>(0)
            let gateClosed = Atomic(true)

            init(concurrency: Int, waitingLimit: Int) throws {
                directory = try TemporaryDirectory()
                let endpoint = directory.endpoint("work")
                server = try BusServer(bind: endpoint, logger: testLogger())
                client = try BusClient(connect: endpoint, logger: testLogger())
                queue = BusWorkQueue(label: "test-work", concurrency: concurrency, waitingLimit: waitingLimit)
                Task { [server, queue] in
                    try await server.run { request in
                        queue.submit(request) { self.work(request) }
                    }
                }
            }

            private func work(_ request: BusIncomingRequest) {
                started.add(1, ordering: .relaxed)
                if gateClosed.load(ordering: .relaxed) {
                    gate.wait()
                    gate.signal()
                }
                worked.add(1, ordering: .relaxed)
                request.reply(request.payload)
            }

            func open() {
                gateClosed.store(false, ordering: .relaxed)
                gate.signal()
            }

            func close() {
                open()
                client.close()
                server.close()
            }
        }

        @Test("with every worker busy and the line full, further requests fail at once with overloaded and never run", .timeLimit(.minutes(1)))
        func overload() async throws {
            let harness = try Harness(concurrency: 1, waitingLimit: 2)
            defer { harness.close() }
            let client = harness.client
            // One running (held at the gate) and two waiting fill the queue.
            let admitted = (0..<3).map { index in
                Task { try await client.request([UInt8(index)], timeout: .seconds(30)) }
            }
            #expect(await eventually(within: .seconds(10)) {
                harness.started.load(ordering: .relaxed) == 1 && harness.queue.waitingCount == 2
            })
            for _ in 0..<5 {
                let (error, _) = await timedFailure { () async throws(BusError) in try await client.request([9], timeout: .seconds(30)) }
                #expect(error == .overloaded)
            }
            harness.open()
            for (index, task) in admitted.enumerated() {
                #expect(try await task.value == [UInt8(index)])
            }
            #expect(await eventually { harness.queue.counts.ran == 3 }, "\(harness.queue.counts)")
            #expect(harness.worked.load(ordering: .relaxed) == 3, "only the admitted requests ran")
            #expect(harness.queue.counts.overloaded == 5)
        }

        @Test("a request whose deadline passes while it waits is dropped without running", .timeLimit(.minutes(1)))
        func expiredWhileWaiting() async throws {
            let harness = try Harness(concurrency: 1, waitingLimit: 8)
            defer { harness.close() }
            let client = harness.client
            let held = Task { try await client.request([1], timeout: .seconds(30)) }
            #expect(await eventually { harness.started.load(ordering: .relaxed) == 1 })
            #expect(try await requestExpiredWhileWaiting(client) { harness.queue.waitingCount } == .deadlineExceeded)
            harness.open()
            #expect(try await held.value == [1])
            #expect(await eventually { harness.queue.counts.expired == 1 }, "\(harness.queue.counts)")
            #expect(harness.worked.load(ordering: .relaxed) == 1, "the expired request's work never ran")
            #expect(try await client.request([3], timeout: .seconds(10)) == [3], "the queue goes on serving")
        }
    }
}
