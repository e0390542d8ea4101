import EtceteraAPI
import Foundation
import GRPCWire
import NIOCore
import NIOHTTP2
import NIOPosix
import SwiftProtobuf

/// One open connection and its call handler.
struct OpenConnection: Sendable {
    let endpoint: Endpoint
    let channel: any Channel
    let handler: NIOLoopBound<ClientConnection>
    var eventLoop: any EventLoop { channel.eventLoop }

    /// Connects to `endpoint`. A `receiveBufferBytes` limit keeps the kernel from absorbing what a
    /// stalled reader leaves unread, so the server feels the stall at once. With `credentials` the
    /// connection authenticates first and sends the token with every call after.
    static func open(
        to endpoint: Endpoint, group: MultiThreadedEventLoopGroup, receiveBufferBytes: Int? = nil,
        credentials: Credentials? = nil
    ) async throws -> OpenConnection {
        let authority = endpoint.description
        var bootstrap = ClientBootstrap(group: group)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
        if let receiveBufferBytes {
            bootstrap = bootstrap.channelOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(receiveBufferBytes))
        }
        bootstrap = bootstrap.channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(NIOHTTP2Handler(
                    mode: .client,
                    connectionConfiguration: HTTP2Tuning.connectionConfiguration(maxMessageBytes: Int(Int32.max)),
                    streamConfiguration: HTTP2Tuning.streamConfiguration))
                try channel.pipeline.syncOperations.addHandler(
                    ClientConnection(authority: authority, eventLoop: channel.eventLoop))
            }
        }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: endpoint.host, port: endpoint.port).get()
        } catch {
            throw BenchmarkError(code: .endpointUnreachable, message: "\(endpoint): \(error)")
        }
        let handler = try await channel.eventLoop.submit {
            NIOLoopBound(try channel.pipeline.syncOperations.handler(type: ClientConnection.self), eventLoop: channel.eventLoop)
        }.get()
        let connection = OpenConnection(endpoint: endpoint, channel: channel, handler: handler)
        if let credentials { try await connection.authenticate(credentials) }
        try await connection.probe()
        return connection
    }

    /// One serializable Range, so that a server that accepts connections but cannot answer fails the
    /// run before any timing starts.
    private func probe() async throws {
        var probe = Etcdserverpb_RangeRequest()
        probe.key = Data([0])
        probe.serializable = true
        probe.limit = 1
        do {
            try await call(path: "/etcdserverpb.KV/Range", request: probe)
        } catch {
            throw BenchmarkError(code: .endpointUnreachable, message: "\(endpoint): \(error)")
        }
    }

    /// Authenticate, then the token on every call of this connection.
    private func authenticate(_ credentials: Credentials) async throws {
        var request = Etcdserverpb_AuthenticateRequest()
        request.name = credentials.user
        request.password = credentials.password
        let token: String
        do {
            token = try Etcdserverpb_AuthenticateResponse(
                serializedBytes: try await exchange(path: "/etcdserverpb.Auth/Authenticate", request: request)).token
        } catch {
            throw BenchmarkError(code: .authenticationFailed, message: "\(endpoint): \(error)")
        }
        let handler = self.handler
        try await eventLoop.submit { handler.value.token = token }.get()
    }

    /// One unary call outside any timing whose response is wanted; fails with the call's status.
    private func exchange(path: String, request: any SwiftProtobuf.Message) async throws -> [UInt8] {
        let framed = try GRPCFraming.framed(request.serializedBytes() as [UInt8], allocator: ByteBufferAllocator())
        let response = ResponseCollector(promise: eventLoop.makePromise(of: [UInt8].self))
        let handler = self.handler
        eventLoop.execute {
            guard let stream = handler.value.openStream(path: path, observer: response) else {
                return response.streamClosed(GRPCStatus(code: .unavailable, message: "transport is closing"))
            }
            handler.value.send(framed, on: stream, endStream: true)
        }
        return try await response.promise.futureResult.get()
    }

    /// One unary call outside any timing; fails with the call's status.
    func call(path: String, request: any SwiftProtobuf.Message) async throws {
        let framed = try GRPCFraming.framed(request.serializedBytes() as [UInt8], allocator: ByteBufferAllocator())
        let promise = eventLoop.makePromise(of: Void.self)
        let handler = self.handler
        eventLoop.execute {
            handler.value.call(path: path, framedRequest: framed, timeout: .seconds(10)) {
                promise.completeWith($0.mapError { $0 as any Error })
            }
        }
        try await promise.futureResult.get()
    }
}

/// A user and password for `--user`, as etcd's benchmark takes them (`NAME:PASSWORD`).
public struct Credentials: Sendable {
    public let user: String
    public let password: String

    public init(user: String, password: String) {
        self.user = user
        self.password = password
    }

    /// `NAME:PASSWORD`, split at the first colon.
    public init?(parsing text: String) {
        guard let colon = text.firstIndex(of: ":") else { return nil }
        self.init(user: String(text[..<colon]), password: String(text[text.index(after: colon)...]))
    }
}

/// Completes its promise with a unary call's one response message, or fails it with the call's status.
private final class ResponseCollector: StreamObserver {
    let promise: EventLoopPromise<[UInt8]>
    private var message: [UInt8]?

    init(promise: EventLoopPromise<[UInt8]>) {
        self.promise = promise
    }

    func received(_ message: [UInt8]) {
        self.message = message
    }

    func streamClosed(_ status: GRPCStatus) {
        if status.code == .ok, let message {
            promise.succeed(message)
        } else {
            promise.fail(CallFailure(status.code == .ok ? .internalError : status.code, status.code == .ok ? "no response" : status.message))
        }
    }
}
