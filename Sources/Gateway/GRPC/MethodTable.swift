import Foundation
import GRPCWire
import SwiftProtobuf

/// What a call carries besides its message: the request headers clients set (such as etcd's `token`).
public struct CallContext: Sendable {
    public let metadata: [String: String]
    /// The common name of the client certificate the connection verified, when the client port runs
    /// with `--client-cert-auth`: etcd makes a call without a token as that user.
    public var certificateUser: String? = nil
}

/// Delivers a call's outcome exactly once, from any thread.
typealias Responder<Response> = @Sendable (Result<Response, GRPCStatus>) -> Void

/// The gRPC methods the gateway serves, by HTTP/2 path (`/etcdserverpb.KV/Range`).
///
/// Handlers answer through a callback rather than `async`: a call then goes from the connection's
/// event loop to the bus thread and back, with no hop through Swift's task executor, which on two
/// cores costs more than everything else the gateway does for a call.
struct MethodTable: Sendable {
    typealias Handler = @Sendable (_ request: [UInt8], _ context: CallContext, _ respond: @escaping Responder<[UInt8]>) -> Void

    /// gRPC's call types, spelled as grpc-go's metrics label them (`grpc_type`).
    enum CallType: String, Sendable {
        case unary
        case serverStream = "server_stream"
        case bidiStream = "bidi_stream"
    }

    /// Opens the server end of a stream.
    typealias StreamOpener = @Sendable (_ context: CallContext, _ writer: StreamWriter) -> StreamingCall

    private(set) var handlers: [String: Handler] = [:]
    private var streamingMethods: [String: StreamOpener] = [:]
    /// Services with at least one method here; calls to other services get gRPC's "unknown service".
    private(set) var services: Set<String> = []
    /// The call type of each streaming method, for per-method metrics.
    private var streamTypes: [String: CallType] = [:]

    /// Registers a unary method whose messages are protobuf types.
    mutating func unary<Request: SwiftProtobuf.Message, Response: SwiftProtobuf.Message>(
        _ service: String, _ method: String,
        _ body: @escaping @Sendable (Request, CallContext, @escaping Responder<Response>) -> Void
    ) {
        services.insert(service)
        handlers["/\(service)/\(method)"] = { bytes, context, respond in
            let request: Request
            do {
                request = try Request(serializedBytes: bytes)
            } catch {
                return respond(.failure(GRPCStatus(code: .internalError, message: "grpc: error unmarshalling request: \(error)")))
            }
            body(request, context) { result in
                respond(result.flatMap { response in
                    do {
                        return .success(try response.serializedBytes())
                    } catch {
                        return .failure(GRPCStatus(code: .internalError, message: "grpc: error while marshaling: \(error)"))
                    }
                })
            }
        }
    }

    /// Registers a method that works on the encoded messages themselves.
    mutating func raw(_ service: String, _ method: String, _ handler: @escaping Handler) {
        services.insert(service)
        handlers["/\(service)/\(method)"] = handler
    }

    /// Registers a method of etcd's API that Etcetera does not serve yet: it answers Unimplemented
    /// with a message that says so, rather than gRPC's "unknown method".
    mutating func notYetSupported(_ service: String, _ method: String) {
        services.insert(service)
        let status = GRPCStatus(code: .unimplemented, message: "etcetera: \(service).\(method) is not supported yet")
        handlers["/\(service)/\(method)"] = { _, _, respond in respond(.failure(status)) }
    }

    /// Registers a streaming method: bidirectional unless the client sends a single request.
    mutating func streaming(_ service: String, _ method: String, type: CallType = .bidiStream, _ open: @escaping StreamOpener) {
        services.insert(service)
        streamTypes["/\(service)/\(method)"] = type
        streamingMethods["/\(service)/\(method)"] = open
    }

    /// The same table with every handler and stream opener replaced by what `unary` and `streaming`
    /// make of it, so that what wraps them (metrics) sees every call, by gRPC or by the JSON gateway.
    func wrapping(
        unary: (_ path: String, _ handler: @escaping Handler) -> Handler,
        streaming: (_ path: String, _ type: CallType, _ open: @escaping StreamOpener) -> StreamOpener
    ) -> MethodTable {
        var wrapped = self
        for (path, handler) in handlers {
            wrapped.handlers[path] = unary(path, handler)
        }
        for (path, open) in streamingMethods {
            wrapped.streamingMethods[path] = streaming(path, streamTypes[path] ?? .bidiStream, open)
        }
        return wrapped
    }

    func streamingMethod(for path: String) -> StreamOpener? {
        streamingMethods[path]
    }

    /// The handler for `path`, or the status gRPC servers give for an unknown method.
    func handler(for path: String) -> Result<Handler, GRPCStatus> {
        if let handler = handlers[path] { return .success(handler) }
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        guard parts.count == 2 else {
            return .failure(GRPCStatus(code: .unimplemented, message: "malformed method name: \"\(path)\""))
        }
        if services.contains(String(parts[0])) {
            return .failure(GRPCStatus(code: .unimplemented, message: "unknown method \(parts[1]) for service \(parts[0])"))
        }
        return .failure(GRPCStatus(code: .unimplemented, message: "unknown service \(parts[0])"))
    }
}
