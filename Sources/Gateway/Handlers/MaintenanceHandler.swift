import EtceteraAPI

/// etcd's Maintenance service. Status is answered from the kv service's store status; the operations
/// that need the maintenance service (alarms, defragment, hashes, snapshots, move-leader) answer
/// Unimplemented until that service exists.
struct MaintenanceHandler: Sendable {
    let backend: ServiceBackend
    let identity: ClusterIdentity
    static let etcdVersion = "3.4.23"

    func register(in table: inout MethodTable) {
        let service = "etcdserverpb.Maintenance"
        table.unary(service, "Status") { (request: Etcdserverpb_StatusRequest, _, respond) in status(request, respond) }
        for method in ["Alarm", "Defragment", "Hash", "HashKV", "Snapshot", "MoveLeader"] {
            table.notYetSupported(service, method)
        }
    }

    func status(_ request: Etcdserverpb_StatusRequest, _ respond: @escaping Responder<Etcdserverpb_StatusResponse>) {
        var kvRequest = Etcetera_Kv_KVRequest()
        kvRequest.status = Etcetera_Kv_StoreStatusRequest()
        let identity = self.identity
        backend.call(kvRequest) { result in
            respond(result.flatMap { reply in
                guard case .status(let store) = reply else { return .failure(ServiceBackend.mismatch) }
                return .success(Self.statusResponse(store, identity: identity))
            })
        }
    }

    private static func statusResponse(_ store: Etcetera_Kv_StoreStatus, identity: ClusterIdentity) -> Etcdserverpb_StatusResponse {
        var response = Etcdserverpb_StatusResponse()
        identity.fill(&response.header, revision: store.revision)
        response.version = etcdVersion
        response.dbSize = store.dbSize
        response.dbSizeInUse = store.dbSizeInUse
        response.leader = identity.memberID
        response.raftIndex = store.appliedIndex
        response.raftAppliedIndex = store.appliedIndex
        response.raftTerm = identity.raftTerm
        return response
    }
}
