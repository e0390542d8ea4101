import EtceteraAPI
import GRPCCore

/// etcd's KV service: forwards to the kv service and completes the header.
struct KVHandler: Etcdserverpb_KV.SimpleServiceProtocol {
    let backend: KVBackend
    let identity: ClusterIdentity

    func range(request: Etcdserverpb_RangeRequest, context: ServerContext) async throws -> Etcdserverpb_RangeResponse {
        var kvRequest = Etcetera_Kv_KVRequest()
        kvRequest.range = request
        guard case .range(var response) = try await backend.call(kvRequest, limitSize: false) else { throw Self.mismatch }
        identity.fill(&response.header)
        return response
    }

    func put(request: Etcdserverpb_PutRequest, context: ServerContext) async throws -> Etcdserverpb_PutResponse {
        var kvRequest = Etcetera_Kv_KVRequest()
        kvRequest.put = request
        guard case .put(var response) = try await backend.call(kvRequest, limitSize: true) else { throw Self.mismatch }
        identity.fill(&response.header)
        return response
    }

    func deleteRange(request: Etcdserverpb_DeleteRangeRequest, context: ServerContext) async throws -> Etcdserverpb_DeleteRangeResponse {
        var kvRequest = Etcetera_Kv_KVRequest()
        kvRequest.deleteRange = request
        guard case .deleteRange(var response) = try await backend.call(kvRequest, limitSize: true) else { throw Self.mismatch }
        identity.fill(&response.header)
        return response
    }

    func txn(request: Etcdserverpb_TxnRequest, context: ServerContext) async throws -> Etcdserverpb_TxnResponse {
        var kvRequest = Etcetera_Kv_KVRequest()
        kvRequest.txn = request
        guard case .txn(var response) = try await backend.call(kvRequest, limitSize: !request.isReadOnly) else { throw Self.mismatch }
        identity.fill(&response.header)
        return response
    }

    func compact(request: Etcdserverpb_CompactionRequest, context: ServerContext) async throws -> Etcdserverpb_CompactionResponse {
        var kvRequest = Etcetera_Kv_KVRequest()
        kvRequest.compact = request
        guard case .compact(var response) = try await backend.call(kvRequest, limitSize: true) else { throw Self.mismatch }
        identity.fill(&response.header)
        return response
    }

    private static let mismatch = RPCError(code: .internalError, message: "etcetera: kv reply of the wrong kind")
}
