import GRPCWire
import NIOCore
import NIOHTTP2

/// The server end of one bidirectional gRPC stream (Watch, LeaseKeepAlive). The connection handler
/// calls it on the connection's event loop: each client message in order, then `cancelled` once if the
/// client resets the stream or the connection closes.
protocol StreamingCall: AnyObject {
    func received(_ message: [UInt8])
    /// The client half-closed its side. etcd keeps such a stream open for its responses.
    func clientFinished()
    func cancelled()
}

/// How a streaming call answers its client, from any thread: messages in order, then the status.
final class StreamWriter: Sendable {
    private let eventLoop: any EventLoop
    private let connection: NIOLoopBound<GRPCConnectionHandler>
    private let stream: HTTP2StreamID

    init(eventLoop: any EventLoop, connection: NIOLoopBound<GRPCConnectionHandler>, stream: HTTP2StreamID) {
        self.eventLoop = eventLoop
        self.connection = connection
        self.stream = stream
    }

    /// Queues one message; `written` runs once it has left for the client (HTTP/2 flow control lets
    /// it go), which is how callers notice a client that stopped reading.
    func send(_ message: [UInt8], written: (@Sendable () -> Void)? = nil) {
        let connection = self.connection
        let stream = self.stream
        eventLoop.execute { connection.value.sendStreamMessage(message, on: stream, written: written) }
    }

    /// Ends the stream with `status` (trailers).
    func finish(_ status: GRPCStatus) {
        let connection = self.connection
        let stream = self.stream
        eventLoop.execute { connection.value.finishStream(stream, status: status) }
    }
}
