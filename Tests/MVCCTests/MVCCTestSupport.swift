import EtceteraAPI
import Foundation
import MVCC
import Storage

/// Small builders so tests read like etcdctl sessions.
extension MVCCStore {
    static func inMemory(maxTxnOperations: Int = 128, compactionBatchLimit: Int = 1000) throws -> MVCCStore {
        var configuration = Configuration()
        configuration.maxTxnOperations = maxTxnOperations
        configuration.compactionBatchLimit = compactionBatchLimit
        configuration.syncWrites = false
        return try MVCCStore(storage: InMemoryStorage(), configuration: configuration)
    }

    @discardableResult
    func put(_ key: String, _ value: String, lease: Int64 = 0, prevKv: Bool = false) async throws -> Etcdserverpb_PutResponse {
        guard case .put(let response) = try await write(.put(.make(key, value, lease: lease, prevKv: prevKv))) else {
            throw MVCCError.corrupt("wrong response kind")
        }
        return response
    }

    @discardableResult
    func delete(_ key: String, end: String = "", prevKv: Bool = false) async throws -> Etcdserverpb_DeleteRangeResponse {
        var request = Etcdserverpb_DeleteRangeRequest()
        request.key = Data(key.utf8)
        request.rangeEnd = Data(end.utf8)
        request.prevKv = prevKv
        guard case .deleteRange(let response) = try await write(.deleteRange(request)) else {
            throw MVCCError.corrupt("wrong response kind")
        }
        return response
    }

    func txn(_ request: Etcdserverpb_TxnRequest) async throws -> Etcdserverpb_TxnResponse {
        guard case .txn(let response) = try await write(.txn(request)) else {
            throw MVCCError.corrupt("wrong response kind")
        }
        return response
    }

    func registerLeases(_ ids: Int64..., ttl: Int64 = 60) async throws {
        _ = try await write(.registerLeases(ids.map { ($0, ttl) }))
    }

    @discardableResult
    func revokeLease(_ id: Int64) async throws -> Etcdserverpb_LeaseRevokeResponse {
        guard case .revokeLease(let response) = try await write(.revokeLease(id)) else {
            throw MVCCError.corrupt("wrong response kind")
        }
        return response
    }

    func compact(_ revision: Int64, physical: Bool = true) async throws {
        var request = Etcdserverpb_CompactionRequest()
        request.revision = revision
        request.physical = physical
        _ = try await write(.compact(request))
    }

    func get(_ key: String, end: String = "", revision: Int64 = 0, configure: (inout Etcdserverpb_RangeRequest) -> Void = { _ in }) throws -> Etcdserverpb_RangeResponse {
        var request = Etcdserverpb_RangeRequest()
        request.key = Data(key.utf8)
        request.rangeEnd = Data(end.utf8)
        request.revision = revision
        configure(&request)
        return try range(request)
    }
}

extension Etcdserverpb_PutRequest {
    static func make(_ key: String, _ value: String, lease: Int64 = 0, prevKv: Bool = false) -> Self {
        var request = Self()
        request.key = Data(key.utf8)
        request.value = Data(value.utf8)
        request.lease = lease
        request.prevKv = prevKv
        return request
    }
}

extension Etcdserverpb_RequestOp {
    static func put(_ key: String, _ value: String) -> Self {
        var op = Self()
        op.request = .requestPut(.make(key, value))
        return op
    }

    static func get(_ key: String, end: String = "") -> Self {
        var range = Etcdserverpb_RangeRequest()
        range.key = Data(key.utf8)
        range.rangeEnd = Data(end.utf8)
        var op = Self()
        op.request = .requestRange(range)
        return op
    }

    static func delete(_ key: String, end: String = "") -> Self {
        var delete = Etcdserverpb_DeleteRangeRequest()
        delete.key = Data(key.utf8)
        delete.rangeEnd = Data(end.utf8)
        var op = Self()
        op.request = .requestDeleteRange(delete)
        return op
    }

    static func txn(_ txn: Etcdserverpb_TxnRequest) -> Self {
        var op = Self()
        op.request = .requestTxn(txn)
        return op
    }
}

extension Etcdserverpb_Compare {
    static func value(_ key: String, _ result: Etcdserverpb_Compare.CompareResult, _ value: String) -> Self {
        var compare = Self()
        compare.key = Data(key.utf8)
        compare.target = .value
        compare.result = result
        compare.value = Data(value.utf8)
        return compare
    }

    static func version(_ key: String, _ result: Etcdserverpb_Compare.CompareResult, _ version: Int64, end: String = "") -> Self {
        var compare = Self()
        compare.key = Data(key.utf8)
        compare.rangeEnd = Data(end.utf8)
        compare.target = .version
        compare.result = result
        compare.version = version
        return compare
    }
}

extension Mvccpb_KeyValue {
    var keyString: String { String(decoding: key, as: UTF8.self) }
    var valueString: String { String(decoding: value, as: UTF8.self) }
}

func temporaryDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "etcetera-test-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}
