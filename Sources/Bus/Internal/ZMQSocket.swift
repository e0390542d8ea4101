import CZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A ZeroMQ socket. Not thread-safe, like the socket itself: it is created on one thread and then used and
/// closed only by the I/O thread it is handed to. It keeps its context alive, so a context is never
/// terminated (which would wait forever) while one of its sockets is still open.
final class ZMQSocket {
    private(set) var handle: UnsafeMutableRawPointer?
    private let context: ZMQContext

    init(context: ZMQContext, type: Int32) throws(SetupFailure) {
        guard let handle = zmq_socket(context.pointer, type) else { throw SetupFailure.zmq("zmq_socket") }
        self.handle = handle
        self.context = context
    }

    func setOption(_ option: Int32, _ value: Int32) throws(SetupFailure) {
        var value = value
        guard zmq_setsockopt(handle, option, &value, MemoryLayout<Int32>.size) == 0 else {
            throw SetupFailure.zmq("zmq_setsockopt(\(option))")
        }
    }

    func setOption(_ option: Int32, bytes: [UInt8]) throws(SetupFailure) {
        let rc = bytes.withUnsafeBytes { zmq_setsockopt(handle, option, $0.baseAddress, $0.count) }
        guard rc == 0 else { throw SetupFailure.zmq("zmq_setsockopt(\(option))") }
    }

    func bind(_ endpoint: String) throws(SetupFailure) {
        guard zmq_bind(handle, endpoint) == 0 else { throw SetupFailure(zmqErrorDescription(zmq_errno())) }
    }

    func connect(_ endpoint: String) throws(SetupFailure) {
        guard zmq_connect(handle, endpoint) == 0 else { throw SetupFailure(zmqErrorDescription(zmq_errno())) }
    }

    /// Sends one frame without blocking. Returns 0, or the errno (`EAGAIN`: no peer or high-water mark).
    func send(_ bytes: UnsafeRawBufferPointer, more: Bool) -> Int32 {
        let flags = ZMQ_DONTWAIT | (more ? ZMQ_SNDMORE : 0)
        return zmq_send(handle, bytes.baseAddress, bytes.count, flags) >= 0 ? 0 : zmq_errno()
    }

    func send(_ payload: [UInt8], more: Bool) -> Int32 {
        payload.withUnsafeBytes { send($0, more: more) }
    }

    /// Makes ZeroMQ process its pending internal commands now (attach or detach pipes). Reading `ZMQ_EVENTS`
    /// does that without the throttling that `zmq_send` applies, so a send right after a connection event
    /// sees the new pipe.
    func processPendingCommands() {
        var events: Int32 = 0
        var size = MemoryLayout<Int32>.size
        _ = zmq_getsockopt(handle, ZMQ_EVENTS, &events, &size)
    }

    /// Closes the socket; pending outgoing messages are dropped (every bus socket has `ZMQ_LINGER` 0).
    func close() {
        guard let handle else { return }
        self.handle = nil
        zmq_close(handle)
    }

    deinit { close() }
}

/// A reusable ZeroMQ message for reading frames one at a time on an I/O thread, so receiving does not
/// allocate beyond copying the payload out.
final class FrameReader {
    private let message: UnsafeMutablePointer<zmq_msg_t>

    init() {
        message = .allocate(capacity: 1)
        zmq_msg_init(message)
    }

    deinit {
        zmq_msg_close(message)
        message.deallocate()
    }

    enum Result { case frame, wouldBlock, failed(Int32) }

    /// Receives the next frame from `socket` without blocking.
    func receive(from socket: ZMQSocket) -> Result {
        if zmq_msg_recv(message, socket.handle, ZMQ_DONTWAIT) >= 0 { return .frame }
        let code = zmq_errno()
        return code == EAGAIN ? .wouldBlock : .failed(code)
    }

    /// True when the frame just received is followed by another frame of the same message.
    var hasMore: Bool { zmq_msg_more(message) != 0 }

    var count: Int { zmq_msg_size(message) }

    func withBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        body(UnsafeRawBufferPointer(start: zmq_msg_data(message), count: zmq_msg_size(message)))
    }

    /// A copy of the current frame.
    func copyBytes() -> [UInt8] {
        withBytes { [UInt8]($0) }
    }

    /// Reads and discards the remaining frames of the current message; returns how many there were.
    @discardableResult
    func skipRest(of socket: ZMQSocket) -> Int {
        var skipped = 0
        while hasMore {
            guard case .frame = receive(from: socket) else { break }
            skipped += 1
        }
        return skipped
    }
}
