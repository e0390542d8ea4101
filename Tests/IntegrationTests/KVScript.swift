import EtceteraAPI
import Foundation
import GRPCCore
import TestSupport

/// One KV API call in a scripted or generated sequence, sent unchanged to any etcd-compatible server.
enum KVCall: Sendable, CustomStringConvertible {
    case range(Etcdserverpb_RangeRequest)
    case put(Etcdserverpb_PutRequest)
    case delete(Etcdserverpb_DeleteRangeRequest)
    case txn(Etcdserverpb_TxnRequest)
    case compact(Etcdserverpb_CompactionRequest)

    var description: String {
        switch self {
        case .range(let request): "Range " + request.textFormatString()
        case .put(let request): "Put " + request.textFormatString()
        case .delete(let request): "DeleteRange " + request.textFormatString()
        case .txn(let request): "Txn " + request.textFormatString()
        case .compact(let request): "Compact " + request.textFormatString()
        }
    }

    /// The server's answer with member-specific header fields (cluster and member id, raft term)
    /// cleared, or the error's code and message.
    func send(to client: EtcdClient) async -> String {
        do {
            switch self {
            case .range(let request):
                var response = try await client.kv.range(request)
                response.header.clearMemberFields()
                return response.textFormatString()
            case .put(let request):
                var response = try await client.kv.put(request)
                response.header.clearMemberFields()
                return response.textFormatString()
            case .delete(let request):
                var response = try await client.kv.deleteRange(request)
                response.header.clearMemberFields()
                return response.textFormatString()
            case .txn(let request):
                var response = try await client.kv.txn(request)
                response.header.clearMemberFields()
                return response.textFormatString()
            case .compact(let request):
                var response = try await client.kv.compact(request)
                response.header.clearMemberFields()
                return response.textFormatString()
            }
        } catch let error as RPCError {
            return "error \(error.code): \(error.message)"
        } catch {
            return "error \(error)"
        }
    }
}

extension Etcdserverpb_ResponseHeader {
    mutating func clearMemberFields() {
        clusterID = 0
        memberID = 0
        raftTerm = 0
    }
}

/// Builders for requests, so scripts read like etcdctl sessions.
enum Build {
    static func get(
        _ key: String, _ end: String = "", revision: Int64 = 0, limit: Int64 = 0,
        configure: (inout Etcdserverpb_RangeRequest) -> Void = { _ in }
    ) -> Etcdserverpb_RangeRequest {
        var request = Etcdserverpb_RangeRequest()
        request.key = Data(key.utf8)
        request.rangeEnd = Data(end.utf8)
        request.revision = revision
        request.limit = limit
        configure(&request)
        return request
    }

    static func put(_ key: String, _ value: String, configure: (inout Etcdserverpb_PutRequest) -> Void = { _ in }) -> Etcdserverpb_PutRequest {
        var request = Etcdserverpb_PutRequest()
        request.key = Data(key.utf8)
        request.value = Data(value.utf8)
        configure(&request)
        return request
    }

    static func delete(_ key: String, _ end: String = "", prevKv: Bool = false) -> Etcdserverpb_DeleteRangeRequest {
        var request = Etcdserverpb_DeleteRangeRequest()
        request.key = Data(key.utf8)
        request.rangeEnd = Data(end.utf8)
        request.prevKv = prevKv
        return request
    }

    static func compact(_ revision: Int64, physical: Bool = false) -> Etcdserverpb_CompactionRequest {
        var request = Etcdserverpb_CompactionRequest()
        request.revision = revision
        request.physical = physical
        return request
    }

    static func txn(
        _ compares: [Etcdserverpb_Compare], success: [Etcdserverpb_RequestOp], failure: [Etcdserverpb_RequestOp] = []
    ) -> Etcdserverpb_TxnRequest {
        var request = Etcdserverpb_TxnRequest()
        request.compare = compares
        request.success = success
        request.failure = failure
        return request
    }

    static func compare(
        _ key: String, _ target: Etcdserverpb_Compare.CompareTarget, _ result: Etcdserverpb_Compare.CompareResult,
        _ operand: Int64 = 0, value: String = "", end: String = ""
    ) -> Etcdserverpb_Compare {
        var compare = Etcdserverpb_Compare()
        compare.key = Data(key.utf8)
        compare.rangeEnd = Data(end.utf8)
        compare.target = target
        compare.result = result
        switch target {
        case .value: compare.value = Data(value.utf8)
        case .create: compare.createRevision = operand
        case .mod: compare.modRevision = operand
        case .lease: compare.lease = operand
        default: compare.version = operand
        }
        return compare
    }

    static func op(_ range: Etcdserverpb_RangeRequest) -> Etcdserverpb_RequestOp {
        var op = Etcdserverpb_RequestOp()
        op.request = .requestRange(range)
        return op
    }

    static func op(_ put: Etcdserverpb_PutRequest) -> Etcdserverpb_RequestOp {
        var op = Etcdserverpb_RequestOp()
        op.request = .requestPut(put)
        return op
    }

    static func op(_ delete: Etcdserverpb_DeleteRangeRequest) -> Etcdserverpb_RequestOp {
        var op = Etcdserverpb_RequestOp()
        op.request = .requestDeleteRange(delete)
        return op
    }

    static func op(_ txn: Etcdserverpb_TxnRequest) -> Etcdserverpb_RequestOp {
        var op = Etcdserverpb_RequestOp()
        op.request = .requestTxn(txn)
        return op
    }
}
