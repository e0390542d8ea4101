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
    /// stalled reader leaves unread, so the server feels the stall at once.
    static func open(
        to endpoint: Endpoint, group: MultiThreadedEventLoopGroup, receiveBufferBytes: Int? = nil
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
