import Bus
import Foundation
import Testing

extension BusTests {
    @Suite("Event stream")
    struct EventStream {
        @Test("10,000 published messages arrive in order")
        func orderedDelivery() async throws {
            let directory = try TemporaryDirectory()
            let endpoint = directory.endpoint("events")
            let publisher = try EventPublisher(bind: endpoint, logger: testLogger())
            defer { publisher.close() }
            let (messages, output) = AsyncStream<[UInt8]>.makeStream()
            let subscriber = try EventSubscriber(
                connect: endpoint, logger: testLogger(), onMessages: { for message in $0 { output.yield(message) } }, onClose: { output.finish() })

            // Beat ZeroMQ's slow joiner: publish probes until one arrives.
            let probe = Task {
                while !Task.isCancelled {
                    publisher.publish([UInt8]("probe"))
                    try await Task.sleep(for: .milliseconds(10))
                }
            }
            var iterator = messages.makeAsyncIterator()
            let first = await iterator.next()
            probe.cancel()
            _ = await probe.result
            #expect(first == [UInt8]("probe"))

            let count = 10_000
            Task.detached {
                for index in 0..<count { publisher.publish(withUnsafeBytes(of: UInt32(index).bigEndian, Array.init)) }
            }
            var expected = 0
            var outOfOrder = 0
            while expected < count, let message = await iterator.next() {
                if message == [UInt8]("probe") { continue }
                let value = message.reduce(0) { $0 << 8 | Int($1) }
                if value != expected { outOfOrder += 1 }
                expected = value + 1
            }
            #expect(expected == count)
            #expect(outOfOrder == 0)

            subscriber.close()
            #expect(await iterator.next() == nil)
        }

        @Test("a subscriber started before its publisher receives once the publisher is up")
        func subscriberFirst() async throws {
            let directory = try TemporaryDirectory()
            let endpoint = directory.endpoint("events")
            let (messages, output) = AsyncStream<[UInt8]>.makeStream()
            let subscriber = try EventSubscriber(connect: endpoint, logger: testLogger(), onMessages: { for message in $0 { output.yield(message) } })
            defer { subscriber.close() }
            let publisher = try EventPublisher(bind: endpoint, logger: testLogger())
            defer { publisher.close() }
            let probe = Task {
                while !Task.isCancelled {
                    publisher.publish([UInt8]("revision 1"))
                    try await Task.sleep(for: .milliseconds(10))
                }
            }
            defer { probe.cancel() }
            var iterator = messages.makeAsyncIterator()
            #expect(await iterator.next() == [UInt8]("revision 1"))
        }
    }
}
