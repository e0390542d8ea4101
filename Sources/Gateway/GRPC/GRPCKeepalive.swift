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
///   `too_many_pings`, and the connection is closed. Headers or data written to the client clear the
///   strikes, so the pings grpc-go's clients send to estimate bandwidth while they receive never count.
/// - Server pings: when nothing has been read for `interval`, a PING is sent; if nothing is read in
///   the `timeout` after it, the connection is closed. Reads are checked once per interval, so the
///   ping leaves between one and two intervals after the last read.
/// - Idleness (grpc-go's `MaxConnectionIdle`, which etcd leaves unset): `maxConnectionIdle` after the connection opened or
///   its last stream closed, with no stream opened since, GOAWAY `NO_ERROR` naming the last stream
///   the client opened is sent and the connection closed. A stream the client opens meanwhile is
///   above that one, so its client knows it was not served and sends it again on a new connection.
final class GRPCKeepaliveHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTP2Frame
    typealias InboundOut = HTTP2Frame
    typealias OutboundIn = HTTP2Frame
    typealias OutboundOut = HTTP2Frame

    /// grpc-go's `maxPingStrikes`: the strike after these ends the connection.
    private static let maxPingStrikes = 2
    /// grpc-go's least interval between pings on a connection without streams.
    private static let minTimeWithoutStreams = TimeAmount.hours(2)
    private static let pingData = HTTP2PingData(withInteger: 0x6574_6365_7465_7261)

    private let minTime: TimeAmount
    private let interval: TimeAmount
    private let timeout: TimeAmount
    private var lastPingAt: NIODeadline?
    private var pingStrikes = 0
    private var resetPingStrikes = false
    /// DATA frames written and not yet sent in full.
    private var dataOnItsWay = 0
    private var openStreams = 0
    private var highestStreamID = HTTP2StreamID.rootStream
    private var readSinceCheck = false
    private var pingOutstanding = false
    private var check: Scheduled<Void>?
    private let maxConnectionIdle: TimeAmount
    /// Set while no stream is open: the GOAWAY for an idle connection.
    private var idleClose: Scheduled<Void>?
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
        scheduleIdleClose(context: context)
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
        idleClose?.cancel()
        idleClose = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        readSinceCheck = true
        let frame = unwrapInboundIn(data)
        switch frame.payload {
        case .headers where frame.streamID > highestStreamID:
            highestStreamID = frame.streamID
        case .ping(_, ack: false):
            policePing(context: context)
        case .windowUpdate where dataOnItsWay > 0:
            resetPingStrikes = true
        default:
            break
        }
        context.fireChannelRead(data)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case is NIOHTTP2StreamCreatedEvent:
            openStreams += 1
            idleClose?.cancel()
            idleClose = nil
        case is StreamClosedEvent:
            openStreams = max(0, openStreams - 1)
            if openStreams == 0 { scheduleIdleClose(context: context) }
        default: break
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func scheduleIdleClose(context: ChannelHandlerContext) {
        idleClose?.cancel()
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        idleClose = context.eventLoop.scheduleTask(in: maxConnectionIdle) {
            let (handler, context) = bound.value
            handler.idleClose = nil
            guard handler.openStreams == 0 else { return }
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

    /// Headers leave at once and clear the strikes. DATA waits for the client's window and leaves in
    /// pieces NIO does not report, so while DATA is on its way each WINDOW_UPDATE from the client
    /// (the sign that a piece arrived) clears them, as grpc-go clears them per DATA frame written;
    /// otherwise the pings grpc-go's client sends while it receives a large answer would count.
    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data).payload {
        case .headers:
            resetPingStrikes = true
            context.write(data, promise: promise)
        case .data:
            let written = promise ?? context.eventLoop.makePromise(of: Void.self)
            let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
            dataOnItsWay += 1
            written.futureResult.whenComplete { _ in
                handler.value.dataOnItsWay -= 1
                handler.value.resetPingStrikes = true
            }
            context.write(data, promise: written)
        default:
            context.write(data, promise: promise)
        }
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

extension TimeAmount {
    /// `duration` as NIO's time amount; beyond ten years is as good as never, and cannot overflow a deadline.
    init(clamping duration: Duration) {
        let longest = Duration.seconds(10 * 365 * 24 * 60 * 60)
        let (seconds, attoseconds) = min(max(duration, .zero), longest).components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
