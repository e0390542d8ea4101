import Bus
import Foundation
import Testing

extension BusTests {
    @Suite("Request/reply")
    struct RequestReply {
        @Test("a request gets its reply, even when sent right after the client is created")
        func roundTrip() async throws {
            let directory = try TemporaryDirectory()
            let endpoint = directory.endpoint("kv")
            let (server, serving) = try startEchoServer(endpoint)
            defer { server.close() }
            let client = try BusClient(connect: endpoint, logger: testLogger())
            defer { client.close() }

            let reply = try await client.request([UInt8]("hello"), timeout: .seconds(5))
            #expect(reply == [UInt8]("echo:hello"))
            let empty = try await client.request([], timeout: .seconds(5))
            #expect(empty == [UInt8]("echo:"))
            #expect(await eventually { client.isPeerAlive })

            server.close()
            try await serving.value
        }

        @Test("1,000 concurrent requests from many tasks each get their own reply")
        func concurrentRequests() async throws {
            let directory = try TemporaryDirectory()
            let endpoint = directory.endpoint("kv")
            let (server, _) = try startEchoServer(endpoint)
            defer { server.close() }
            let client = try BusClient(connect: endpoint, logger: testLogger())
            defer { client.close() }

            let mismatches = try await withThrowingTaskGroup(of: Int.self) { group in
                for task in 0..<50 {
                    group.addTask {
                        var mismatches = 0
                        for index in 0..<20 {
                            let payload = [UInt8]("request-\(task)-\(index)")
                            let reply = try await client.request(payload, timeout: .seconds(10))
                            if reply != [UInt8]("echo:") + payload { mismatches += 1 }
                        }
                        return mismatches
                    }
                }
                return try await group.reduce(0, +)
            }
            #expect(mismatches == 0)
        }

        @Test("the callback form delivers each reply once, and fails fast with no server")
        func callbackRequests() async throws {
            let directory = try TemporaryDirectory()
            let endpoint = directory.endpoint("kv")
            let (server, _) = try startEchoServer(endpoint)
            let client = try BusClient(connect: endpoint, logger: testLogger())
            defer { client.close() }

            let replies = try await withThrowingTaskGroup(of: [UInt8].self) { group in
                for index in 0..<100 {
                    group.addTask {
                        let result = await withCheckedContinuation { continuation in
                            client.request([UInt8]("cb-\(index)"), timeout: .seconds(5)) { continuation.resume(returning: $0) }
                        }
                        return try result.get()
                    }
                }
                return try await group.reduce(into: Set<[UInt8]>()) { $0.insert($1) }
            }
            #expect(replies == Set((0..<100).map { [UInt8]("echo:cb-\($0)") }))

            server.close()
            let started = ContinuousClock.now
            let failure = await withCheckedContinuation { continuation in
                client.request([UInt8]("late"), timeout: .seconds(10)) { continuation.resume(returning: $0) }
            }
            #expect(throws: BusError.unavailable) { try failure.get() }
            #expect(ContinuousClock.now - started < .seconds(5))
        }

        @Test("large payloads round-trip intact")
        func largePayload() async throws {
            let directory = try TemporaryDirectory()
            let endpoint = directory.endpoint("kv")
            let (server, _) = try startEchoServer(endpoint)
            defer { server.close() }
            let client = try BusClient(connect: endpoint, logger: testLogger())
            defer { client.close() }

            var payload = [UInt8](repeating: 0x5A, count: 4_000_000)
            for offset in stride(from: 0, to: payload.count, by: 4093) { payload[offset] = UInt8(truncatingIfNeeded: offset) }
            let reply = try await client.request(payload, timeout: .seconds(10))
            #expect(reply == [UInt8]("echo:") + payload)
        }

        @Test("a streamed reply yields the partials in order, then the final reply, then finishes")
        func streamedReply() async throws {
            let directory = try TemporaryDirectory()
            let endpoint = directory.endpoint("kv")
            let server = try BusServer(bind: endpoint, logger: testLogger())
            defer { server.close() }
            Task {
                try await server.run { request in
                    Task.detached {
                        for index in 0..<100 { request.sendPartial([UInt8]("part\(index);")) }
                        request.reply([UInt8]("end"))
                        request.sendPartial([UInt8]("ignored after the final reply"))
                    }
                }
            }
            let client = try BusClient(connect: endpoint, logger: testLogger())
            defer { client.close() }

            let received = try await client.streamedReplies([UInt8]("snapshot"), timeout: .seconds(5))
            let expected = (0..<100).map { [UInt8]("part\($0);") } + [[UInt8]("end")]
            #expect(received == expected)

            let concatenated = try await client.request([UInt8]("range"), timeout: .seconds(5))
            #expect(concatenated == expected.flatMap { $0 })
        }

        @Test("requests gathered by the handler are answered as a batch after it, each batch once")
        func batches() async throws {
            let directory = try TemporaryDirectory()
            let endpoint = directory.endpoint("kv")
            let server = try BusServer(bind: endpoint, logger: testLogger())
            defer { server.close() }
            let gathered = HeldRequests()
            Task {
                try await server.run { gathered.append($0) } afterEachBatch: {
                    let batch = gathered.removeAll()
                    for request in batch { request.reply([UInt8]("\(batch.count)")) }
                }
            }
            let client = try BusClient(connect: endpoint, logger: testLogger())
            defer { client.close() }

            let sizes = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<200 {
                    group.addTask { Int(String(decoding: try await client.request([], timeout: .seconds(5)), as: UTF8.self))! }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            // A batch of n requests gives n replies saying n: the sizes account for every request.
            let batchCount = Dictionary(grouping: sizes, by: { $0 }).reduce(0) { $0 + $1.value.count / $1.key }
            #expect(sizes.count == 200)
            #expect(Dictionary(grouping: sizes, by: { $0 }).allSatisfy { $0.value.count % $0.key == 0 })
            #expect(batchCount >= 1 && batchCount <= 200)
        }

        @Test("the server sees the caller's deadline")
        func serverSeesDeadline() async throws {
            let directory = try TemporaryDirectory()
            let endpoint = directory.endpoint("kv")
            let server = try BusServer(bind: endpoint, logger: testLogger())
            defer { server.close() }
            Task {
                try await server.run { request in
                    let remaining = request.deadline - ContinuousClock.now
                    request.reply([UInt8]("\(remaining.components.seconds)"))
                }
            }
            let client = try BusClient(connect: endpoint, logger: testLogger())
            defer { client.close() }

            let reply = try await client.request([], timeout: .seconds(30))
            #expect(["29", "30"].contains(String(decoding: reply, as: UTF8.self)))
        }

        @Test("a request that is never answered fails with deadlineExceeded at its deadline")
        func deadlineExceeded() async throws {
            let directory = try TemporaryDirectory()
            let endpoint = directory.endpoint("kv")
            let server = try BusServer(bind: endpoint, logger: testLogger())
            defer { server.close() }
            let held = HeldRequests()
            Task { try await server.run { held.append($0) } }
            let client = try BusClient(connect: endpoint, logger: testLogger())
            defer { client.close() }

            let (error, elapsed) = await timedFailure { () async throws(BusError) in
                try await client.request([UInt8]("never answered"), timeout: .milliseconds(300))
            }
            #expect(error == .deadlineExceeded)
            #expect(elapsed >= .milliseconds(300))
            #expect(elapsed < .milliseconds(1000))
            #expect(held.count == 1)

            // A reply arriving after the deadline is dropped; the client keeps working.
            for request in held.removeAll() { request.reply([UInt8]("too late")) }
            let (streamError, _) = await timedFailure { () async throws(BusError) in
                _ = try await client.streamedReplies([], timeout: .milliseconds(200))
                return []
            }
            #expect(streamError == .deadlineExceeded)
        }

        @Test("a request the handler drops without answering fails with unavailable at once")
        func droppedRequest() async throws {
            let directory = try TemporaryDirectory()
            let endpoint = directory.endpoint("kv")
            let server = try BusServer(bind: endpoint, logger: testLogger())
            defer { server.close() }
            Task { try await server.run { _ in } }
            let client = try BusClient(connect: endpoint, logger: testLogger())
            defer { client.close() }

            let (error, elapsed) = await timedFailure { () async throws(BusError) in
                try await client.request([], timeout: .seconds(10))
            }
            #expect(error == .unavailable)
            #expect(elapsed < .seconds(2))
        }

        @Test("cancelling the calling task fails the request with cancelled")
        func cancellation() async throws {
            let directory = try TemporaryDirectory()
            let endpoint = directory.endpoint("kv")
            let server = try BusServer(bind: endpoint, logger: testLogger())
            defer { server.close() }
            let held = HeldRequests()
            Task { try await server.run { held.append($0) } }
            let client = try BusClient(connect: endpoint, logger: testLogger())
            defer { client.close() }

            let task = Task { () async -> (BusError?, Duration) in
                await timedFailure { () async throws(BusError) in try await client.request([], timeout: .seconds(30)) }
            }
            #expect(await eventually { held.count == 1 })
            task.cancel()
            let (error, elapsed) = await task.value
            #expect(error == .cancelled)
            #expect(elapsed < .seconds(5))
        }

        @Test("closing the client fails pending and later requests with closed")
        func clientClose() async throws {
            let directory = try TemporaryDirectory()
            let endpoint = directory.endpoint("kv")
            let server = try BusServer(bind: endpoint, logger: testLogger())
            defer { server.close() }
            let held = HeldRequests()
            Task { try await server.run { held.append($0) } }
            let client = try BusClient(connect: endpoint, logger: testLogger())

            let pending = Task { () async -> (BusError?, Duration) in
                await timedFailure { () async throws(BusError) in try await client.request([], timeout: .seconds(30)) }
            }
            #expect(await eventually { held.count == 1 })
            client.close()
            #expect(await pending.value.0 == .closed)
            let (error, _) = await timedFailure { () async throws(BusError) in
                try await client.request([], timeout: .seconds(1))
            }
            #expect(error == .closed)
            #expect(!client.isPeerAlive)
        }

        @Test("round trip over tcp on a free loopback port; a second bind to the port fails")
        func tcpRoundTrip() async throws {
            let (server, endpoint) = try bindOnFreeTCPPort()
            defer { server.close() }
            Task { try await server.run { $0.reply([UInt8]("tcp:") + $0.payload) } }
            let client = try BusClient(connect: endpoint, logger: testLogger())
            defer { client.close() }

            #expect(try await client.request([1, 2, 3], timeout: .seconds(5)) == [UInt8]("tcp:") + [1, 2, 3])
            #expect(throws: BusError.bindFailed(endpoint, "")) {
                _ = try BusServer(bind: endpoint, logger: testLogger())
            }
        }

        @Test("malformed endpoints are rejected")
        func malformedEndpoints() {
            #expect(throws: BusError.bindFailed("", "")) { _ = try BusServer(bind: "nope://x", logger: testLogger()) }
            #expect(throws: BusError.connectFailed("", "")) { _ = try BusClient(connect: "tcp://", logger: testLogger()) }
            #expect(throws: BusError.bindFailed("", "")) { _ = try EventPublisher(bind: "bogus", logger: testLogger()) }
            #expect(throws: BusError.connectFailed("", "")) { _ = try EventSubscriber(connect: "x", logger: testLogger(), onMessages: { _ in }) }
        }

        @Test("run() after close() returns at once; a second run() throws closed")
        func runLifecycle() async throws {
            let directory = try TemporaryDirectory()
            let first = try BusServer(bind: directory.endpoint("a"), logger: testLogger())
            let serving = Task { try await first.run { $0.reply([]) } }
            try await Task.sleep(for: .milliseconds(50))
            await #expect(throws: BusError.closed) { try await first.run { $0.reply([]) } }
            first.close()
            try await serving.value

            let second = try BusServer(bind: directory.endpoint("b"), logger: testLogger())
            second.close()
            try await second.run { $0.reply([]) }

            let third = try BusServer(bind: directory.endpoint("c"), logger: testLogger())
            let cancelled = Task { try await third.run { $0.reply([]) } }
            cancelled.cancel()
            try await cancelled.value
        }
    }
}
