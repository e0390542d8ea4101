import EtceteraAPI
import GRPCCore

/// etcd's Maintenance service. Status is answered from the kv service's store status; the operations
/// that need the maintenance service (alarms, defragment, hashes, snapshots) answer Unimplemented
/// until that service exists.
struct MaintenanceHandler: Etcdserverpb_Maintenance.SimpleServiceProtocol {
    let backend: KVBackend
    let identity: ClusterIdentity
    static let etcdVersion = "3.4.23"

    func status(request: Etcdserverpb_StatusRequest, context: ServerContext) async throws -> Etcdserverpb_StatusResponse {
        var kvRequest = Etcetera_Kv_KVRequest()
        kvRequest.status = Etcetera_Kv_StoreStatusRequest()
        guard case .status(let store) = try await backend.call(kvRequest, limitSize: false) else {
            throw RPCError(code: .internalError, message: "etcetera: kv reply of the wrong kind")
        }
        var response = Etcdserverpb_StatusResponse()
        identity.fill(&response.header, revision: store.revision)
        response.version = Self.etcdVersion
        response.dbSize = store.dbSize
        response.dbSizeInUse = store.dbSizeInUse
        response.leader = identity.memberID
        response.raftIndex = store.appliedIndex
        response.raftAppliedIndex = store.appliedIndex
        response.raftTerm = identity.raftTerm
        return response
    }

    func alarm(request: Etcdserverpb_AlarmRequest, context: ServerContext) async throws -> Etcdserverpb_AlarmResponse {
        throw Self.notYet("Alarm")
    }

    func defragment(request: Etcdserverpb_DefragmentRequest, context: ServerContext) async throws -> Etcdserverpb_DefragmentResponse {
        throw Self.notYet("Defragment")
    }

    func hash(request: Etcdserverpb_HashRequest, context: ServerContext) async throws -> Etcdserverpb_HashResponse {
        throw Self.notYet("Hash")
    }

    func hashKV(request: Etcdserverpb_HashKVRequest, context: ServerContext) async throws -> Etcdserverpb_HashKVResponse {
        throw Self.notYet("HashKV")
    }

    func snapshot(
        request: Etcdserverpb_SnapshotRequest, response: RPCWriter<Etcdserverpb_SnapshotResponse>, context: ServerContext
    ) async throws {
        throw Self.notYet("Snapshot")
    }

    func moveLeader(request: Etcdserverpb_MoveLeaderRequest, context: ServerContext) async throws -> Etcdserverpb_MoveLeaderResponse {
        throw Self.notYet("MoveLeader")
    }

    static func notYet(_ method: String) -> RPCError {
        RPCError(code: .unimplemented, message: "etcetera: \(method) is not supported yet")
    }
}
