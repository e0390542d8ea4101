import CZeroMQ
import Foundation
import Testing

/// A bare ZeroMQ socket, to play a misbehaving or foreign peer: it speaks the wire format of docs/bus.md
/// directly, or sends garbage.
final class RawSocket {
    private let context: UnsafeMutableRawPointer
    private let socket: UnsafeMutableRawPointer

    init(type: Int32) throws {
        context = try #require(zmq_ctx_new())
        socket = try #require(zmq_socket(context, type))
        var zero: Int32 = 0
        zmq_setsockopt(socket, ZMQ_LINGER, &zero, 4)
    }

    func bind(_ endpoint: String) throws {
        try #require(zmq_bind(socket, endpoint) == 0, "bind \(endpoint): \(String(cString: zmq_strerror(zmq_errno())))")
    }

    func connect(_ endpoint: String) throws {
        try #require(zmq_connect(socket, endpoint) == 0)
    }

    /// Sends one multi-part message.
    func send(_ frames: [[UInt8]]) {
        for (index, frame) in frames.enumerated() {
            let flags = index < frames.count - 1 ? ZMQ_SNDMORE : 0
            _ = frame.withUnsafeBytes { zmq_send(socket, $0.baseAddress, $0.count, flags) }
        }
    }

    /// Receives one multi-part message, or nil after `timeout`.
    func receive(timeout: Duration = .seconds(5)) -> [[UInt8]]? {
        var item = zmq_pollitem_t(socket: socket, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0)
        let milliseconds = Int(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        guard zmq_poll(&item, 1, milliseconds) > 0 else { return nil }
        var frames: [[UInt8]] = []
        var message = zmq_msg_t()
        zmq_msg_init(&message)
        defer { zmq_msg_close(&message) }
        repeat {
            guard zmq_msg_recv(&message, socket, 0) >= 0 else { return nil }
            frames.append([UInt8](UnsafeRawBufferPointer(start: zmq_msg_data(&message), count: zmq_msg_size(&message))))
        } while zmq_msg_more(&message) != 0
        return frames
    }

    deinit {
        zmq_close(socket)
        zmq_ctx_term(context)
    }
}

/// Encodes a header frame as docs/bus.md describes it: "ET", version 1, command, id (BE), argument (BE).
func wireHeader(command: UInt8, id: UInt64, argument: UInt32 = 0) -> [UInt8] {
    var bytes: [UInt8] = [0x45, 0x54, 0x01, command]
    bytes += withUnsafeBytes(of: id.bigEndian, Array.init)
    bytes += withUnsafeBytes(of: argument.bigEndian, Array.init)
    return bytes
}

enum Command {
    static let request: UInt8 = 0x01
    static let ping: UInt8 = 0x02
    static let partial: UInt8 = 0x03
    static let final: UInt8 = 0x04
    static let pong: UInt8 = 0x05
}
