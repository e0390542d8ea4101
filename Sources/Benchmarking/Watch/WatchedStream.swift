import EtceteraAPI
import Foundation
import GRPCWire
import NIOCore
import NIOHTTP2

/// Where the watch benchmark's keys and values come from: put number `i` writes key `i mod K` with a
/// value that carries `i`, so every event names the put it came from.
struct WatchKeySpace: Sendable {
    let keys: [Data]
    let valueSize: Int

    init(size: Int, keySize: Int, valueSize: Int) {
        keys = (0..<size).map { KeyEncoding.key($0, size: keySize) }
        self.valueSize = valueSize
    }

    func key(ofPut put: Int) -> Int { put % keys.count }

    func value(ofPut put: Int) -> Data { KeyEncoding.key(put, size: valueSize) }

    /// The put number a value carries (the inverse of ``value(ofPut:)``), nil for foreign bytes.
    func put(fromValue value: Data) -> Int? {
        var shift: UInt64 = 0
        var zigZag: UInt64 = 0
        for byte in value.prefix(10) {
            zigZag |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 {
                let number = Int64(bitPattern: (zigZag >> 1) ^ (0 &- (zigZag & 1)))
                return number >= 0 ? Int(number) : nil
            }
            shift += 7
        }
        return nil
    }

    /// Puts among the first `putTotal` that write key `key`.
    func puts(toKey key: Int, putTotal: Int) -> Int {
        putTotal / keys.count + (key < putTotal % keys.count ? 1 : 0)
    }
}

/// What one watcher was sent, checked as it arrives: etcd's guarantees say each event of the
/// watcher's key comes once, in revision order.
struct WatcherTally {
    /// Index into the key space; `nil` watches every key.
    let key: Int?
    let expected: Int
    var received = 0
    var lastRevision: Int64 = 0
    var outOfOrder = 0
    var foreign = 0

    var complete: Bool { received >= expected }
}

/// One Watch stream of the benchmark with its watchers, confined to its connection's event loop.
final class WatchedStream: StreamObserver {
    private let connection: ClientConnection
    private let keySpace: WatchKeySpace
    private let onCreated: () -> Void
    private let onEvent: (_ put: Int) -> Void
    private let onComplete: () -> Void
    private var stream: HTTP2StreamID?
    private(set) var tallies: [WatcherTally]
    private var watcherByID: [Int64: Int] = [:]
    private var createdCount = 0
    private var completeCount: Int
    private var reportedComplete = false
    /// Put number and arrival time of every event, for latencies computed after the run.
    private(set) var arrivals: [(put: Int32, at: NIODeadline)] = []
    private(set) var failures: [String] = []

    /// - Parameters:
    ///   - onCreated: runs once every watcher has been created.
    ///   - onEvent: runs for every event that arrives for a watcher, with its put number.
    ///   - onComplete: runs once every watcher has had all it expects.
    init(
        connection: ClientConnection, keySpace: WatchKeySpace, tallies: [WatcherTally],
        onCreated: @escaping () -> Void, onEvent: @escaping (Int) -> Void, onComplete: @escaping () -> Void
    ) {
        self.connection = connection
        self.keySpace = keySpace
        self.tallies = tallies
        self.onCreated = onCreated
        self.onEvent = onEvent
        self.onComplete = onComplete
        completeCount = tallies.count { $0.complete }
        arrivals.reserveCapacity(tallies.reduce(0) { $0 + $1.expected })
    }

    /// Opens the stream and asks for every watcher; etcd answers creates in the order they were sent.
    func open(prevKV: Bool) {
        guard let stream = connection.openStream(path: "/etcdserverpb.Watch/Watch", observer: self) else {
            failures.append("connection closed before the stream opened")
            return
        }
        self.stream = stream
        let allocator = ByteBufferAllocator()
        for tally in tallies {
            var create = Etcdserverpb_WatchCreateRequest()
            if let key = tally.key {
                create.key = keySpace.keys[key]
            } else {
                create.key = Data([0])
                create.rangeEnd = Data([0])
            }
            create.prevKv = prevKV
            var request = Etcdserverpb_WatchRequest()
            request.createRequest = create
            // Encoding a plain message into bytes cannot fail.
            let bytes: [UInt8] = (try? request.serializedBytes()) ?? []
            connection.send(GRPCFraming.framed(bytes, allocator: allocator), on: stream)
        }
        if tallies.isEmpty { creationFinished() }
    }

    private func creationFinished() {
        onCreated()
        reportIfComplete()
    }

    private func reportIfComplete() {
        guard !reportedComplete, createdCount == tallies.count, completeCount == tallies.count else { return }
        reportedComplete = true
        onComplete()
    }

    func received(_ message: [UInt8]) {
        guard let response = try? Etcdserverpb_WatchResponse(serializedBytes: message) else {
            failures.append("undecodable WatchResponse")
            return
        }
        if response.created {
            guard createdCount < tallies.count else {
                failures.append("unexpected created response for watch \(response.watchID)")
                return
            }
            watcherByID[response.watchID] = createdCount
            createdCount += 1
            if createdCount == tallies.count { creationFinished() }
        }
        if response.canceled {
            failures.append(
                "watch \(response.watchID) cancelled: \(response.cancelReason) (compact revision \(response.compactRevision))")
        }
        guard !response.events.isEmpty else { return }
        guard let watcher = watcherByID[response.watchID] else {
            failures.append("events for unknown watch \(response.watchID)")
            return
        }
        let now = NIODeadline.now()
        var tally = tallies[watcher]
        let wasComplete = tally.complete
        for event in response.events {
            let revision = event.kv.modRevision
            if revision <= tally.lastRevision { tally.outOfOrder += 1 }
            tally.lastRevision = max(tally.lastRevision, revision)
            guard let put = keySpace.put(fromValue: event.kv.value),
                  tally.key == nil || keySpace.key(ofPut: put) == tally.key,
                  event.kv.key == keySpace.keys[keySpace.key(ofPut: put)]
            else {
                tally.foreign += 1
                continue
            }
            tally.received += 1
            arrivals.append((Int32(put), now))
            onEvent(put)
        }
        tallies[watcher] = tally
        if !wasComplete, tally.complete {
            completeCount += 1
            reportIfComplete()
        }
    }

    func streamClosed(_ status: GRPCStatus) {
        failures.append("stream closed: \(status.code.name) \(status.message)")
    }
}
