import NIOCore
import NIOHTTP2

/// etcd's gRPC keepalive flags, which etcd hands to grpc-go's server.
public struct GRPCKeepalive: Sendable, Hashable {
    /// `--grpc-keepalive-min-time`: a client pinging more often than this (with a stream open; without
    /// one, more often than every two hours) is told `too_many_pings` and disconnected.
    public var minTime: Duration = .seconds(5)
    /// `--grpc-keepalive-interval`: a connection nothing has been read from for this long is pinged.
    public var interval: Duration = .seconds(2 * 60 * 60)
    /// `--grpc-keepalive-timeout`: a pinged connection that sends nothing for this long is closed.
    public var timeout: Duration = .seconds(20)

    public init() {}
}

/// Runs etcd's gRPC keepalive on one HTTP/2 connection the way grpc-go's server runs it:
///
/// - Ping policing (grpc-go's `EnforcementPolicy` with `PermitWithoutStream: false`): a PING that
///   comes sooner than `minTime` after the previous one (two hours when no stream is open) is a
///   strike; the third strike is answered with GOAWAY `ENHANCE_YOUR_CALM` and debug data
///   `too_many_pings`, and the connection is closed. Each HEADERS or DATA frame written to the client
///   clears the strikes (``OutboundFrameObserver`` sees them as they go), so the pings grpc-go's
///   clients send to estimate bandwidth while they receive never count.
/// - Server pings: when nothing has been read for `interval`, a PING is sent; if nothing is read in
///   the `timeout` after it, the connection is closed. Reads are checked once per interval, so the
///   ping leaves between one and two intervals after the last read.
/// - Idleness (grpc-go's `MaxConnectionIdle`, which etcd leaves unset): `maxConnectionIdle` after the connection opened or
///   its last stream closed, with no stream opened since, GOAWAY `NO_ERROR` naming the last stream
///   the client opened is sent and the connection closed. A stream the client opens meanwhile is
///   above that one, so its client knows it was not served and sends it again on a new connection.
///
/// It only reads: frames and stream events pass through it untouched and writes do not pass it at
/// all, so a call costs it a few comparisons.
final class GRPCKeepaliveHandler: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame
    typealias InboundOut = HTTP2Frame
    typealias OutboundOut = HTTP2Frame

    /// grpc-go's `maxPingStrikes`: the strike after these ends the connection.
    private static let maxPingStrikes = 2
    /// grpc-go's least interval between pings on a connection without streams.
    private static let minTimeWithoutStreams = TimeAmount.hours(2)
    private static let pingData = HTTP2PingData(withInteger: 0x6574_6365_7465_7261)
    /// The stream events counted, told apart by type: cheaper than a dynamic cast per event, and
    /// NIO fires an event for every window change.
    private static let streamCreated = ObjectIdentifier(NIOHTTP2StreamCreatedEvent.self)
    private static let streamClosed = ObjectIdentifier(StreamClosedEvent.self)

    private let minTime: TimeAmount
    private let interval: TimeAmount
    private let timeout: TimeAmount
    private var lastPingAt: NIODeadline?
    private var pingStrikes = 0
    private var resetPingStrikes = false
    private var openStreams = 0
    private var highestStreamID = HTTP2StreamID.rootStream
    private var readSinceCheck = false
    private var pingOutstanding = false
    private var check: Scheduled<Void>?
    private let maxConnectionIdle: TimeAmount
    /// When the connection last had no stream open (it opened, or its last stream closed).
    private var idleSince = NIODeadline.now()
    /// The idleness check runs `maxConnectionIdle` after `idleSince` as it was when it was set, and
    /// looks again then, so streams that open and close cost no timer each.
    private var idleCheck: Scheduled<Void>?
    private var closing = false

    /// - Parameter maxConnectionIdle: see `ClientPortServer.Configuration.idleTimeout`.
    init(_ keepalive: GRPCKeepalive, maxConnectionIdle: TimeAmount) {
        minTime = TimeAmount(clamping: keepalive.minTime)
        interval = TimeAmount(clamping: keepalive.interval)
        timeout = TimeAmount(clamping: keepalive.timeout)
        self.maxConnectionIdle = maxConnectionIdle
    }

    /// Joins a connection already open (see `GRPCConnectionHandler.handlerAdded`).
    func handlerAdded(context: ChannelHandlerContext) {
        schedule(after: interval, context: context)
        idleSince = .now()
        scheduleIdleCheck(context: context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancelTimers()
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancelTimers()
        context.fireChannelInactive()
    }

    private func cancelTimers() {
        check?.cancel()
        check = nil
        idleCheck?.cancel()
        idleCheck = nil
    }

    /// A HEADERS or DATA frame (or a piece of one) went to the client.
    func headersOrDataWritten() {
        resetPingStrikes = true
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        readSinceCheck = true
        let frame = unwrapInboundIn(data)
        switch frame.payload {
        case .headers where frame.streamID > highestStreamID:
            highestStreamID = frame.streamID
        case .ping(_, ack: false):
            policePing(context: context)
        default:
            break
        }
        context.fireChannelRead(data)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch ObjectIdentifier(type(of: event)) {
        case Self.streamCreated:
            openStreams += 1
        case Self.streamClosed:
            openStreams = max(0, openStreams - 1)
            if openStreams == 0 {
                idleSince = .now()
                if idleCheck == nil { scheduleIdleCheck(context: context) }
            }
        default:
            break
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func scheduleIdleCheck(context: ChannelHandlerContext) {
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        idleCheck = context.eventLoop.scheduleTask(deadline: idleSince + maxConnectionIdle) {
            let (handler, context) = bound.value
            handler.idleCheck = nil
            // A stream open now schedules the next check when the last one closes.
            guard handler.openStreams == 0 else { return }
            guard NIODeadline.now() >= handler.idleSince + handler.maxConnectionIdle else {
                return handler.scheduleIdleCheck(context: context)
            }
            handler.goAway(.noError, debugData: "", context: context)
        }
    }

    /// Sends GOAWAY naming the last stream the client opened, then closes the connection.
    private func goAway(_ code: HTTP2ErrorCode, debugData: String, context: ChannelHandlerContext) {
        guard !closing else { return }
        closing = true
        let goAway = HTTP2Frame(
            streamID: .rootStream,
            payload: .goAway(lastStreamID: highestStreamID, errorCode: code, opaqueData: ByteBuffer(string: debugData)))
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(goAway)).whenComplete { _ in channel.close(promise: nil) }
    }

    private func policePing(context: ChannelHandlerContext) {
        let now = NIODeadline.now()
        defer { lastPingAt = now }
        if resetPingStrikes {
            resetPingStrikes = false
            pingStrikes = 0
            return
        }
        let least = openStreams > 0 ? minTime : Self.minTimeWithoutStreams
        if let lastPingAt, lastPingAt + least > now { pingStrikes += 1 }
        guard pingStrikes > Self.maxPingStrikes else { return }
        goAway(.enhanceYourCalm, debugData: "too_many_pings", context: context)
    }

    private func schedule(after delay: TimeAmount, context: ChannelHandlerContext) {
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        check = context.eventLoop.scheduleTask(in: delay) {
            let (handler, context) = bound.value
            handler.checkActivity(context: context)
        }
    }

    private func checkActivity(context: ChannelHandlerContext) {
        if readSinceCheck {
            readSinceCheck = false
            pingOutstanding = false
            return schedule(after: interval, context: context)
        }
        if pingOutstanding { return context.close(promise: nil) }
        pingOutstanding = true
        context.writeAndFlush(wrapOutboundOut(HTTP2Frame(streamID: .rootStream, payload: .ping(Self.pingData, ack: false))), promise: nil)
        schedule(after: timeout, context: context)
    }
}

/// Sits between the HTTP/2 handler and the socket (or TLS) and follows the frames the connection
/// writes, telling ``GRPCKeepaliveHandler`` of each HEADERS or DATA frame as it leaves, as grpc-go
/// clears ping strikes for each piece of data it writes. Data held back by flow control leaves later
/// in pieces, each a frame of its own, and each counts as it goes. It reads the nine-byte header of
/// each frame and skips the rest, wherever the buffers split them.
final class OutboundFrameObserver: ChannelOutboundHandler {
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    private static let headerLength = 9
    private static let dataType: UInt8 = 0x0
    private static let headersType: UInt8 = 0x1

    private let headersOrDataWritten: () -> Void
    /// Bytes of the current frame's payload still to come.
    private var payloadLeft = 0
    /// The part of a frame header seen so far, when a buffer ended inside one.
    private var partialHeader: [UInt8] = []

    init(headersOrDataWritten: @escaping () -> Void) {
        self.headersOrDataWritten = headersOrDataWritten
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .byteBuffer(let buffer) = unwrapOutboundIn(data) { follow(buffer) }
        context.write(data, promise: promise)
    }

    private func follow(_ buffer: ByteBuffer) {
        var index = buffer.readerIndex
        let end = buffer.writerIndex
        while index < end {
            if payloadLeft > 0 {
                let skipped = min(payloadLeft, end - index)
                payloadLeft -= skipped
                index += skipped
            } else if partialHeader.isEmpty, end - index >= Self.headerLength,
                      let high = buffer.getInteger(at: index, as: UInt16.self),
                      let low = buffer.getInteger(at: index + 2, as: UInt8.self),
                      let type = buffer.getInteger(at: index + 3, as: UInt8.self) {
                frameStarts(length: Int(high) << 8 | Int(low), type: type)
                index += Self.headerLength
            } else {
                let taken = min(Self.headerLength - partialHeader.count, end - index)
                partialHeader += buffer.getBytes(at: index, length: taken) ?? []
                index += taken
                if partialHeader.count == Self.headerLength {
                    frameStarts(length: Int(partialHeader[0]) << 16 | Int(partialHeader[1]) << 8 | Int(partialHeader[2]), type: partialHeader[3])
                    partialHeader = []
                }
            }
        }
    }

    private func frameStarts(length: Int, type: UInt8) {
        payloadLeft = length
        if type == Self.dataType || type == Self.headersType { headersOrDataWritten() }
    }
}

extension TimeAmount {
    /// `duration` as NIO's time amount; beyond ten years is as good as never, and cannot overflow a deadline.
    init(clamping duration: Duration) {
        let longest = Duration.seconds(10 * 365 * 24 * 60 * 60)
        let (seconds, attoseconds) = min(max(duration, .zero), longest).components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
