import EtceteraAPI

/// etcd's KV service: forwards each call to the kv service and completes the response header.
struct KVHandler: Sendable {
    let backend: KVBackend
    let identity: ClusterIdentity

    func register(in table: inout MethodTable) {
        let service = "etcdserverpb.KV"
        table.unary(service, "Range") { (request: Etcdserverpb_RangeRequest, _, respond) in
            var kvRequest = Etcetera_Kv_KVRequest()
            kvRequest.range = request
            forward(kvRequest, limitSize: false, respond) { if case .range(let response) = $0 { response } else { nil } }
        }
        table.unary(service, "Put") { (request: Etcdserverpb_PutRequest, _, respond) in
            var kvRequest = Etcetera_Kv_KVRequest()
            kvRequest.put = request
            forward(kvRequest, limitSize: true, respond) { if case .put(let response) = $0 { response } else { nil } }
        }
        table.unary(service, "DeleteRange") { (request: Etcdserverpb_DeleteRangeRequest, _, respond) in
            var kvRequest = Etcetera_Kv_KVRequest()
            kvRequest.deleteRange = request
            forward(kvRequest, limitSize: true, respond) { if case .deleteRange(let response) = $0 { response } else { nil } }
        }
        table.unary(service, "Txn") { (request: Etcdserverpb_TxnRequest, _, respond) in
            var kvRequest = Etcetera_Kv_KVRequest()
            kvRequest.txn = request
            forward(kvRequest, limitSize: !request.isReadOnly, respond) { if case .txn(let response) = $0 { response } else { nil } }
        }
        table.unary(service, "Compact") { (request: Etcdserverpb_CompactionRequest, _, respond) in
            var kvRequest = Etcetera_Kv_KVRequest()
            kvRequest.compact = request
            forward(kvRequest, limitSize: false, respond) { if case .compact(let response) = $0 { response } else { nil } }
        }
    }

    /// Sends `request` to the kv service and answers with the reply of the expected kind, its header
    /// completed with the member's ids and term.
    private func forward<Response: EtcdResponse>(
        _ request: Etcetera_Kv_KVRequest, limitSize: Bool, _ respond: @escaping Responder<Response>,
        extract: @escaping @Sendable (Etcetera_Kv_KVReply.OneOf_Reply) -> Response?
    ) {
        let identity = self.identity
        backend.call(request, limitSize: limitSize) { result in
            respond(result.flatMap { reply in
                guard var response = extract(reply) else { return .failure(Self.mismatch) }
                identity.fill(&response.header)
                return .success(response)
            })
        }
    }

    static let mismatch = GRPCStatus(code: .internalError, message: "etcetera: kv reply of the wrong kind")
}

/// etcd responses that carry a `ResponseHeader`.
protocol EtcdResponse: SwiftProtobuf.Message {
    var header: Etcdserverpb_ResponseHeader { get set }
}

extension Etcdserverpb_RangeResponse: EtcdResponse {}
extension Etcdserverpb_PutResponse: EtcdResponse {}
extension Etcdserverpb_DeleteRangeResponse: EtcdResponse {}
extension Etcdserverpb_TxnResponse: EtcdResponse {}
extension Etcdserverpb_CompactionResponse: EtcdResponse {}

import SwiftProtobuf
