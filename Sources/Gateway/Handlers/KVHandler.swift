import EtceteraAPI

/// etcd's KV service: forwards to the kv service and completes the header.
struct KVHandler: Sendable {
    let backend: KVBackend
    let identity: ClusterIdentity

    func register(in table: inout MethodTable) {
        let service = "etcdserverpb.KV"
        table.unary(service, "Range") { (request: Etcdserverpb_RangeRequest, _) throws(GRPCStatus) in try await range(request) }
        table.unary(service, "Put") { (request: Etcdserverpb_PutRequest, _) throws(GRPCStatus) in try await put(request) }
        table.unary(service, "DeleteRange") { (request: Etcdserverpb_DeleteRangeRequest, _) throws(GRPCStatus) in try await deleteRange(request) }
        table.unary(service, "Txn") { (request: Etcdserverpb_TxnRequest, _) throws(GRPCStatus) in try await txn(request) }
        table.unary(service, "Compact") { (request: Etcdserverpb_CompactionRequest, _) throws(GRPCStatus) in try await compact(request) }
    }

    func range(_ request: Etcdserverpb_RangeRequest) async throws(GRPCStatus) -> Etcdserverpb_RangeResponse {
        var kvRequest = Etcetera_Kv_KVRequest()
        kvRequest.range = request
        guard case .range(var response) = try await backend.call(kvRequest, limitSize: false) else { throw Self.mismatch }
        identity.fill(&response.header)
        return response
    }

    func put(_ request: Etcdserverpb_PutRequest) async throws(GRPCStatus) -> Etcdserverpb_PutResponse {
        var kvRequest = Etcetera_Kv_KVRequest()
        kvRequest.put = request
        guard case .put(var response) = try await backend.call(kvRequest, limitSize: true) else { throw Self.mismatch }
        identity.fill(&response.header)
        return response
    }

    func deleteRange(_ request: Etcdserverpb_DeleteRangeRequest) async throws(GRPCStatus) -> Etcdserverpb_DeleteRangeResponse {
        var kvRequest = Etcetera_Kv_KVRequest()
        kvRequest.deleteRange = request
        guard case .deleteRange(var response) = try await backend.call(kvRequest, limitSize: true) else { throw Self.mismatch }
        identity.fill(&response.header)
        return response
    }

    func txn(_ request: Etcdserverpb_TxnRequest) async throws(GRPCStatus) -> Etcdserverpb_TxnResponse {
        var kvRequest = Etcetera_Kv_KVRequest()
        kvRequest.txn = request
        guard case .txn(var response) = try await backend.call(kvRequest, limitSize: !request.isReadOnly) else { throw Self.mismatch }
        identity.fill(&response.header)
        return response
    }

    func compact(_ request: Etcdserverpb_CompactionRequest) async throws(GRPCStatus) -> Etcdserverpb_CompactionResponse {
        var kvRequest = Etcetera_Kv_KVRequest()
        kvRequest.compact = request
        guard case .compact(var response) = try await backend.call(kvRequest, limitSize: false) else { throw Self.mismatch }
        identity.fill(&response.header)
        return response
    }

    static let mismatch = GRPCStatus(code: .internalError, message: "etcetera: kv reply of the wrong kind")
}
