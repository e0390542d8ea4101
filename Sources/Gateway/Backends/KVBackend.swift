import Bus
import EtceteraAPI
import Logging
import SwiftProtobuf

/// The gateway's connection to the kv service: sends a `KVRequest`, returns the `KVReply`, and turns
/// transport failures and service errors into etcd's gRPC errors.
final class KVBackend: Sendable {
    private let client: BusClient
    private let timeout: Duration
    private let maxRequestBytes: Int

    init(endpoint: String, timeout: Duration, maxRequestBytes: Int, logger: Logger) throws {
        client = try BusClient(connect: endpoint, logger: logger)
        self.timeout = timeout
        self.maxRequestBytes = maxRequestBytes
    }

    var isAlive: Bool { client.isPeerAlive }

    /// Sends the request; returns the reply's payload, or throws the status a client should see.
    /// With `limitSize` (writes, as etcd replicates them) a request whose encoding exceeds
    /// `--max-request-bytes` is refused; the `KVRequest` envelope stands in for etcd's raft envelope.
    func call(_ request: Etcetera_Kv_KVRequest, limitSize: Bool) async throws(GRPCStatus) -> Etcetera_Kv_KVReply.OneOf_Reply {
        let payload: [UInt8]
        do {
            payload = try request.serializedBytes()
        } catch {
            throw GRPCStatus(code: .internalError, message: "etcetera: cannot encode kv request")
        }
        if limitSize, payload.count > maxRequestBytes { throw ErrorMapping.requestTooLarge }
        let replyBytes: [UInt8]
        do {
            replyBytes = try await client.request(payload, timeout: timeout)
        } catch {
            throw ErrorMapping.status(error)
        }
        let reply: Etcetera_Kv_KVReply
        do {
            reply = try Etcetera_Kv_KVReply(serializedBytes: replyBytes)
        } catch {
            throw GRPCStatus(code: .internalError, message: "etcetera: undecodable kv reply")
        }
        switch reply.reply {
        case .error(let error): throw ErrorMapping.status(code: error.code, detail: error.detail)
        case .some(let payload): return payload
        case nil: throw GRPCStatus(code: .internalError, message: "etcetera: empty kv reply")
        }
    }

    func close() { client.close() }
}
