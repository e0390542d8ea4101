import Bus
import Dispatch
import Synchronization

/// Where the work of a line's tests waits while the test holds it: closed at first, open for good once
/// opened.
final class WorkGate: Sendable {
    private let semaphore = DispatchSemaphore(value: 0)
    private let closed = Atomic(true)

    /// Returns once the gate is open (at once if it already is).
    func pass() {
        guard closed.load(ordering: .relaxed) else { return }
        semaphore.wait()
        semaphore.signal()
    }

    func open() {
        closed.store(false, ordering: .relaxed)
        semaphore.signal()
    }
}

/// A server whose handler gives every request to `line` through `submit`, with its work: the work waits
/// at `gate`, notes the request's payload and answers with it. For the lines that run one piece of work
/// per request (``BusWorkQueue``, ``BusSerialLine``).
final class GatedLineHarness<Line: Sendable>: @unchecked Sendable {
    let directory: TemporaryDirectory
    let server: BusServer
    let client: BusClient
    let line: Line
    let gate = WorkGate()
    /// Works that started (some may wait at the gate).
    let started = Atomic<Int>(0)
    /// The payloads of the works that ran past the gate, in the order they did.
    let ran = Mutex<[[UInt8]]>([])

    init(_ line: Line, submit: @escaping @Sendable (Line, BusIncomingRequest, @escaping @Sendable () -> Void) -> Void) throws {
        directory = try TemporaryDirectory()
        let endpoint = directory.endpoint("line")
        server = try BusServer(bind: endpoint, logger: testLogger())
        client = try BusClient(connect: endpoint, logger: testLogger())
        self.line = line
        Task { [self] in
            try await server.run { request in submit(line, request) { self.work(request) } }
        }
    }

    private func work(_ request: BusIncomingRequest) {
        started.add(1, ordering: .relaxed)
        gate.pass()
        ran.withLock { $0.append(request.payload) }
        request.reply(request.payload)
    }

    var ranCount: Int { ran.withLock { $0.count } }

    func open() {
        gate.open()
    }

    func close() {
        gate.open()
        client.close()
        server.close()
    }
}
