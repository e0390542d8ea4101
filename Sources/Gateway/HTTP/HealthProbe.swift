import EtceteraAPI

/// etcd's `/health` for Etcetera: healthy when no alarm is active and every service the gateway
/// uses answers (etcd checks its alarms, its leader and a read through raft; here the kv store's
/// status stands for the read, and the lease and maintenance services must answer too).
struct HealthProbe: Sendable {
    let kv: ServiceBackend
    let lease: ServiceBackend?
    let maintenance: ServiceBackend?

    func check(completion: @escaping @Sendable (Bool) -> Void) {
        Task { completion(await isHealthy()) }
    }

    private func isHealthy() async -> Bool {
        var request = Etcetera_Kv_KVRequest()
        request.status = Etcetera_Kv_StoreStatusRequest()
        guard case .status(let store)? = try? await kv.call(request), store.alarms.isEmpty else { return false }
        do {
            if let lease { try await LeaseHandler.probe(lease) }
            if let maintenance {
                let status = MaintenanceHandler.statusCall
                try await maintenance.probe(requestField: status.requestField, replyField: status.replyField)
            }
        } catch {
            return false
        }
        return true
    }
}
