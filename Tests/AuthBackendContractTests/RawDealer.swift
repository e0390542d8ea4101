import CZeroMQ
import Foundation
import TestSupport

/// A bare ZeroMQ DEALER that speaks docs/bus.md frame by frame, to check a backend's framing without the
/// Swift bus client's help (it would answer a missing PONG by retrying, not by failing). Used by one task
/// at a time (a ZeroMQ socket is not thread-safe).
final class RawDealer: @unchecked Sendable {
    struct Message {
        let command: UInt8
        let id: UInt64
        let argument: UInt32
        /// The frames after the header.
        let frames: [[UInt8]]
    }

    private let context: UnsafeMutableRawPointer
    private let socket: UnsafeMutableRawPointer

    init(connect endpoint: String) throws {
        context = zmq_ctx_new()
        socket = zmq_socket(context, ZMQ_DEALER)
        var timeout: Int32 = 5_000
        zmq_setsockopt(socket, ZMQ_RCVTIMEO, &timeout, MemoryLayout<Int32>.size)
        var linger: Int32 = 0
        zmq_setsockopt(socket, ZMQ_LINGER, &linger, MemoryLayout<Int32>.size)
        guard zmq_connect(socket, endpoint) == 0 else { throw TestFailure("connect \(endpoint) failed") }
    }

    deinit {
        zmq_close(socket)
        zmq_ctx_term(context)
    }

    /// Sends a header (and a payload frame, if given).
    func send(command: UInt8, id: UInt64, argument: UInt32 = 0, payload: [UInt8]? = nil) {
        var header: [UInt8] = [0x45, 0x54, 0x01, command]
        header += withUnsafeBytes(of: id.bigEndian, Array.init)
        header += withUnsafeBytes(of: argument.bigEndian, Array.init)
        zmq_send(socket, header, header.count, payload == nil ? 0 : ZMQ_SNDMORE)
        if let payload { zmq_send(socket, payload, payload.count, 0) }
    }

    /// The next message, or nil after 5 s; waits on a dispatch thread, not on one of Swift's few
    /// concurrency threads that the tests running in parallel share.
    func receive() async -> Message? {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: self.receiveBlocking()) }
        }
    }

    private func receiveBlocking() -> Message? {
        var frames: [[UInt8]] = []
        repeat {
            var message = zmq_msg_t()
            zmq_msg_init(&message)
            defer { zmq_msg_close(&message) }
            guard zmq_msg_recv(&message, socket, 0) >= 0 else { return nil }
            let data = zmq_msg_data(&message)!.assumingMemoryBound(to: UInt8.self)
            frames.append(Array(UnsafeBufferPointer(start: data, count: zmq_msg_size(&message))))
        } while more
        let header = frames[0]
        guard header.count == 16, header[0] == 0x45, header[1] == 0x54, header[2] == 0x01 else {
            return Message(command: 0, id: 0, argument: 0, frames: frames)
        }
        let id = header[4..<12].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let argument = header[12..<16].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        return Message(command: header[3], id: id, argument: argument, frames: Array(frames.dropFirst()))
    }

    private var more: Bool {
        var value: Int32 = 0
        var size = MemoryLayout<Int32>.size
        zmq_getsockopt(socket, ZMQ_RCVMORE, &value, &size)
        return value != 0
    }
}
