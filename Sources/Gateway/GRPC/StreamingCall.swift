import GRPCWire
import NIOCore
import NIOHTTP2

/// The server end of one bidirectional gRPC stream (Watch, LeaseKeepAlive). The connection handler
/// calls it on the connection's event loop: each client message in order, then `cancelled` once if the
/// client resets the stream or the connection closes.
protocol StreamingCall: AnyObject {
    /// Takes the client's next message. `.paused` asks the transport to hold the messages after it,
    /// and to stop reading them from the client, until the call's writer resumes reading.
    func received(_ message: [UInt8]) -> StreamDemand
    /// The client half-closed its side. etcd keeps such a stream open for its responses.
    func clientFinished()
    func cancelled()
}

/// Whether a streaming call takes more client messages now. A client that sends and never reads
/// would otherwise make the gateway queue answers without end; pausing turns that into the client's
/// own flow control (no window for the stream, or no reads from the HTTP/1.1 connection).
enum StreamDemand: Sendable {
    case more
    case paused
}

/// How a streaming call answers its client, from any thread: messages in order, then the status.
/// The transport decides what that means: gRPC frames on an HTTP/2 stream, or lines of JSON on an
/// HTTP/1.1 response (`JSONGatewayExchange`), so the same streaming handlers serve both.
final class StreamWriter: Sendable {
    /// Passes messages that are ready together (one frame, one write) to the transport.
    typealias Deliver = @Sendable (_ messages: [[UInt8]], _ written: (@Sendable () -> Void)?) -> Void
    typealias Finish = @Sendable (GRPCStatus) -> Void
    typealias Resume = @Sendable () -> Void

    private let deliver: Deliver
    private let end: Finish
    private let resume: Resume

    init(deliver: @escaping Deliver, finish: @escaping Finish, resume: @escaping Resume) {
        self.deliver = deliver
        self.end = finish
        self.resume = resume
    }

    /// A writer onto one HTTP/2 stream of a gRPC connection.
    convenience init(eventLoop: any EventLoop, connection: NIOLoopBound<GRPCConnectionHandler>, stream: HTTP2StreamID) {
        self.init(
            deliver: { messages, written in
                eventLoop.execute { connection.value.sendStreamMessages(messages, on: stream, written: written) }
            },
            finish: { status in
                eventLoop.execute { connection.value.finishStream(stream, status: status) }
            },
            resume: {
                eventLoop.execute { connection.value.resumeStream(stream) }
            })
    }

    /// Queues one message; `written` runs once it has left for the client (the transport's flow control lets
    /// it go), which is how callers notice a client that stopped reading.
    func send(_ message: [UInt8], written: (@Sendable () -> Void)? = nil) {
        deliver([message], written)
    }

    /// Queues messages in order, to leave together; `written` runs once, when all of them have left.
    /// One hop to the transport and one write for many messages is what keeps a watch event that
    /// thousands of watchers on one stream match cheap.
    func send(_ messages: [[UInt8]], written: (@Sendable () -> Void)? = nil) {
        guard !messages.isEmpty else { return }
        deliver(messages, written)
    }

    /// Ends the stream with `status`.
    func finish(_ status: GRPCStatus) {
        end(status)
    }

    /// Lets the transport pass the client's messages again after the call answered `.paused`.
    /// Always hops to the transport's event loop, so it cannot overtake the pause it ends.
    func resumeReading() {
        resume()
    }
}
