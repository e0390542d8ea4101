import NIOCore
import NIOHTTP2

/// The HTTP/2 settings both ends of Etcetera's gRPC connections use.
public enum HTTP2Tuning {
    /// Connection settings for gRPC traffic whose messages may be up to `maxMessageBytes`.
    ///
    /// Streams get an initial window (``streamWindow(maxMessageBytes:)``) larger than the largest
    /// message, so a message never waits for a window update half-way; the receiver re-opens each
    /// stream's window as it takes the stream's messages. grpc-go (etcdctl, clientv3, etcd itself) sends a PING about once per round trip
    /// while it estimates bandwidth, plus keepalive pings; NIO's default of 200 control frames per 30 s
    /// would drop such a peer under load, so the limit is raised far out of reach.
    public static func connectionConfiguration(
        maxMessageBytes: Int, extraSettings: [HTTP2Setting] = []
    ) -> NIOHTTP2Handler.ConnectionConfiguration {
        var connection = NIOHTTP2Handler.ConnectionConfiguration()
        connection.initialSettings = [
            HTTP2Setting(parameter: .maxHeaderListSize, value: 1 << 16),
            HTTP2Setting(parameter: .initialWindowSize, value: streamWindow(maxMessageBytes: maxMessageBytes)),
        ] + extraSettings
        connection.controlFrameRateLimit.maximumCount = 1_000_000
        return connection
    }

    /// The receive window each stream starts with: room for the largest message and its framing.
    public static func streamWindow(maxMessageBytes: Int) -> Int {
        min(Int(Int32.max), max(4 << 20, maxMessageBytes + 1024))
    }

    /// Stream settings for the same traffic. NIO closes a connection whose peer resets more than 200
    /// streams in 30 s (a guard against "rapid reset" floods); a client calling clientv3's
    /// `KeepAliveOnce` resets a stream per keep-alive, and cancelled watches and calls reset theirs, so
    /// the limit is raised as far as the control-frame limit, which etcd's server does not have either.
    public static var streamConfiguration: NIOHTTP2Handler.StreamConfiguration {
        var stream = NIOHTTP2Handler.StreamConfiguration()
        stream.streamResetFrameRateLimit.maximumCount = 1_000_000
        return stream
    }
}

/// Keeps an HTTP/2 connection's receive window open. The connection window starts at 64 KiB whatever
/// SETTINGS say; it is grown once when the connection opens and topped up after half has been used.
public struct ConnectionReceiveWindow: Sendable {
    public static let size = 16 << 20
    private var unacknowledgedBytes = 0

    public init() {}

    /// The WINDOW_UPDATE to send when the connection becomes active.
    public static var openingUpdate: HTTP2Frame {
        HTTP2Frame(streamID: .rootStream, payload: .windowUpdate(windowSizeIncrement: size - 65_535))
    }

    /// Accounts for received DATA; returns the WINDOW_UPDATE to send, if one is due.
    public mutating func received(_ count: Int) -> HTTP2Frame? {
        unacknowledgedBytes += count
        guard unacknowledgedBytes >= Self.size / 2 else { return nil }
        defer { unacknowledgedBytes = 0 }
        return HTTP2Frame(streamID: .rootStream, payload: .windowUpdate(windowSizeIncrement: unacknowledgedBytes))
    }
}
