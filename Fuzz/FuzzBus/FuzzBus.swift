import AuthService
import Cluster
import CZeroMQ
import EtceteraAPI
import Foundation
import FuzzSupport
import KVService
import LeaseService
import Logging
import MaintenanceService
import MVCC
import Storage
import WatchService

#if canImport(Glibc)
import Glibc
#endif

/// libFuzzer target: what a service reads from the bus. The five services (kv on an in-memory store,
/// lease, watch, auth, maintenance) run in this process on `ipc://` endpoints, and each input goes to
/// one of them (byte 0, low bits) through a raw ZeroMQ DEALER socket, so the whole receiving path is
/// exercised: the bus server's frame reading and header parsing, then the service's own request
/// decoding and handling.
///
/// With byte 0's high bit clear, the rest is the payload of a well-formed REQUEST (the service's
/// request message, as a `BusClient` sends it), and its FINAL reply must come back (a watch session's
/// open is answered when the session ends, so the target closes it right after). With the high bit set,
/// the rest is raw frames, each `length byte | bytes` (length 255: the rest of the input), followed by
/// a PING whose PONG must come back. A request left unanswered, a service that stops answering its
/// bus, and any crash are failures.
@main
enum FuzzerEntry {
    static func main() { runLibFuzzer(testOneInput) }
}

@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    guard size >= 1 else { return 0 }
    let input = UnsafeBufferPointer(start: data, count: size)
    let client = services.clients[Int(input[0] & 0x7F) % services.clients.count]
    if input[0] & 0x80 == 0 {
        let payload = Array(input.dropFirst())
        var closing: [UInt8]?
        if client === services.clients[2], let request = try? Etcetera_Watch_WatchServiceRequest(serializedBytes: payload),
           case .open(let open) = request.request {
            var close = Etcetera_Watch_WatchServiceRequest()
            close.close.session = open.session
            closing = try? close.serializedBytes()
        }
        client.request(payload, then: closing)
    } else {
        var frames: [[UInt8]] = []
        var rest = input.dropFirst()
        while let length = rest.popFirst() {
            let count = length == 255 ? rest.count : min(Int(length), rest.count)
            frames.append(Array(rest.prefix(count)))
            rest = rest.dropFirst(count)
        }
        client.send(frames)
        client.ping()
    }
    return 0
}

/// The services, started on first use.
private let services = Services()

private final class Services: Sendable {
    let clients: [RawBusClient]

    init() {
        let directory = busDirectory
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(atPath: busDirectory) }
        func endpoint(_ name: String) -> String { "ipc://\(directory)/\(name).sock" }
        let logger = Logger(label: "fuzz") { _ in SwiftLogNoOpLogHandler() }
        let kvEndpoint = endpoint("kv"), kvEvents = endpoint("kv-events")
        do {
            var storeConfiguration = MVCCStore.Configuration()
            storeConfiguration.syncWrites = false
            let store = try MVCCStore(storage: InMemoryStorage(), configuration: storeConfiguration)
            let kv = try KVServer(
                store: store, configuration: KVServer.Configuration(listenEndpoint: kvEndpoint, eventsEndpoint: kvEvents),
                logger: logger)
            let lease = try LeaseServer(
                configuration: LeaseServer.Configuration(listenEndpoint: endpoint("lease"), kvEndpoint: kvEndpoint),
                storage: InMemoryStorage(), logger: logger)
            let watch = try WatchServer(
                configuration: WatchServer.Configuration(
                    listenEndpoint: endpoint("watch"), kvEndpoint: kvEndpoint, kvEventsEndpoint: kvEvents),
                logger: logger)
            var authConfiguration = AuthServer.Configuration(listenEndpoint: endpoint("auth"), eventsEndpoint: endpoint("auth-events"))
            authConfiguration.bcryptCost = 4
            let auth = try AuthServer(configuration: authConfiguration, storage: InMemoryStorage(), logger: logger)
            let cluster = SingleMemberCluster(name: "fuzz", peerURLs: ["http://127.0.0.1:2380"], clientURLs: ["http://127.0.0.1:2379"])
            let maintenance = try MaintenanceServer(
                configuration: MaintenanceServer.Configuration(listenEndpoint: endpoint("maintenance"), kvEndpoint: kvEndpoint, cluster: cluster),
                logger: logger)
            Task.detached { try await kv.run() }
            Task.detached { try await lease.run() }
            Task.detached { try await watch.run() }
            Task.detached { try await auth.run() }
            Task.detached { try await maintenance.run() }
        } catch {
            fatalError("cannot start the services: \(error)")
        }
        clients = ["kv", "lease", "watch", "auth", "maintenance"].map { RawBusClient(endpoint: endpoint($0)) }
        for client in clients { client.ping() }
    }
}

/// Where the services' sockets are, one directory per process (removed at exit).
private let busDirectory = FileManager.default.temporaryDirectory
    .appendingPathComponent("etcetera-fuzz-bus-\(ProcessInfo.processInfo.processIdentifier)").path

/// A DEALER socket that speaks the bus's request/reply frames (docs/bus.md) byte by byte.
private final class RawBusClient: @unchecked Sendable {
    private let endpoint: String
    private let context: UnsafeMutableRawPointer
    private let socket: UnsafeMutableRawPointer
    private var nextID: UInt64 = 1

    private static let command: (request: UInt8, ping: UInt8, partial: UInt8, final: UInt8, pong: UInt8) = (1, 2, 3, 4, 5)
    /// How long a PONG or a reply may take before the service counts as stuck (the services' own calls
    /// to the kv service give up after 5 s).
    private static let pongTimeout: Duration = .seconds(20)
    private static let replyTimeout: Duration = .seconds(20)

    init(endpoint: String) {
        self.endpoint = endpoint
        guard let context = zmq_ctx_new(), let socket = zmq_socket(context, ZMQ_DEALER) else { fatalError("zmq: \(errno)") }
        self.context = context
        self.socket = socket
        var linger: Int32 = 0
        var timeout: Int32 = 100
        zmq_setsockopt(socket, ZMQ_LINGER, &linger, MemoryLayout<Int32>.size)
        zmq_setsockopt(socket, ZMQ_RCVTIMEO, &timeout, MemoryLayout<Int32>.size)
        guard zmq_connect(socket, endpoint) == 0 else { fatalError("zmq_connect \(endpoint): \(errno)") }
    }

    /// Sends a well-formed REQUEST (and `followUp`, if any, right after it) and waits for its FINAL reply.
    func request(_ payload: [UInt8], then followUp: [UInt8]?) {
        let id = takeID()
        send([Self.header(Self.command.request, id: id, argument: 10_000), payload])
        if let followUp { send([Self.header(Self.command.request, id: takeID(), argument: 10_000), followUp]) }
        let answered = receive(until: .now + Self.replyTimeout) { command, replyID in
            replyID == id && command == Self.command.final
        }
        if !answered { fatalError("\(endpoint) did not answer a request within \(Self.replyTimeout)") }
    }

    /// Sends a PING and waits for its PONG; a service that does not answer is stuck.
    func ping() {
        let id = takeID()
        send([Self.header(Self.command.ping, id: id, argument: 0)])
        let answered = receive(until: .now + Self.pongTimeout) { command, replyID in
            replyID == id && command == Self.command.pong
        }
        if !answered { fatalError("\(endpoint) did not answer a PING within \(Self.pongTimeout)") }
    }

    func send(_ frames: [[UInt8]]) {
        for (index, frame) in frames.enumerated() {
            let flags = index == frames.count - 1 ? 0 : ZMQ_SNDMORE
            _ = frame.withUnsafeBytes { zmq_send(socket, $0.baseAddress, $0.count, flags) }
        }
    }

    /// Reads messages until one matches, or `deadline` passes (false).
    private func receive(until deadline: ContinuousClock.Instant, matching: (UInt8, UInt64) -> Bool) -> Bool {
        var header = [UInt8](repeating: 0, count: 16)
        while ContinuousClock.now < deadline {
            let received = header.withUnsafeMutableBytes { zmq_recv(socket, $0.baseAddress, $0.count, 0) }
            guard received >= 0 else { continue }
            skipRestOfMessage()
            guard received == 16, header[0] == 0x45, header[1] == 0x54 else { continue }
            let id = header[4..<12].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            if matching(header[3], id) { return true }
        }
        return false
    }

    private func skipRestOfMessage() {
        var more: Int32 = 0
        var length = MemoryLayout<Int32>.size
        var scratch = [UInt8](repeating: 0, count: 64)
        while zmq_getsockopt(socket, ZMQ_RCVMORE, &more, &length) == 0, more != 0 {
            _ = scratch.withUnsafeMutableBytes { zmq_recv(socket, $0.baseAddress, $0.count, 0) }
        }
    }

    private func takeID() -> UInt64 {
        defer { nextID += 1 }
        return nextID
    }

    private static func header(_ command: UInt8, id: UInt64, argument: UInt32) -> [UInt8] {
        [0x45, 0x54, 1, command] + withUnsafeBytes(of: id.bigEndian, Array.init) + withUnsafeBytes(of: argument.bigEndian, Array.init)
    }
}
