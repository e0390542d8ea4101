import Foundation
import SwiftProtobuf

/// What a call carries besides its message: the request headers clients set (such as etcd's `token`).
public struct CallContext: Sendable {
    public let metadata: [String: String]
}

/// The gRPC methods the gateway serves, by HTTP/2 path (`/etcdserverpb.KV/Range`).
struct MethodTable: Sendable {
    typealias Handler = @Sendable (_ request: [UInt8], _ context: CallContext) async -> Result<[UInt8], GRPCStatus>

    private(set) var handlers: [String: Handler] = [:]
    /// Services with at least one method here; calls to other services get gRPC's "unknown service".
    private(set) var services: Set<String> = []

    /// Registers a unary method whose messages are protobuf types.
    mutating func unary<Request: SwiftProtobuf.Message, Response: SwiftProtobuf.Message>(
        _ service: String, _ method: String,
        _ body: @escaping @Sendable (Request, CallContext) async throws(GRPCStatus) -> Response
    ) {
        services.insert(service)
        handlers["/\(service)/\(method)"] = { bytes, context in
            let request: Request
            do {
                request = try Request(serializedBytes: bytes)
            } catch {
                return .failure(GRPCStatus(code: .internalError, message: "grpc: error unmarshalling request: \(error)"))
            }
            do {
                let response = try await body(request, context)
                return .success(try response.serializedBytes())
            } catch let status as GRPCStatus {
                return .failure(status)
            } catch {
                return .failure(GRPCStatus(code: .internalError, message: "grpc: error while marshaling: \(error)"))
            }
        }
    }

    /// Registers a method of etcd's API that Etcetera does not serve yet: it answers Unimplemented
    /// with a message that says so, rather than gRPC's "unknown method".
    mutating func notYetSupported(_ service: String, _ method: String) {
        services.insert(service)
        let status = GRPCStatus(code: .unimplemented, message: "etcetera: \(service).\(method) is not supported yet")
        handlers["/\(service)/\(method)"] = { _, _ in .failure(status) }
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
