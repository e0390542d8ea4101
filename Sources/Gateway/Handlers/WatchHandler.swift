import Cluster
import EtceteraAPI

/// etcd's Watch service: each client stream becomes a ``WatchSession`` on a watch process; with auth
/// served, its creates pass a ``WatchAdmission`` first.
struct WatchHandler {
    let backend: WatchBackend
    let kv: ServiceBackend
    let identity: ClusterIdentity
    let gate: AuthGate?
    let storeRevision: StoreRevision

    func register(in methods: inout MethodTable) {
        let backend = self.backend
        let kv = self.kv
        let gate = self.gate
        let headerSuffix = identity.headerFieldSuffix
        let storeRevision = self.storeRevision
        methods.streaming("etcdserverpb.Watch", "Watch") { context, writer in
            let admission = gate.map { WatchAdmission(gate: $0, kv: kv, context: context, headerSuffix: headerSuffix) }
            return WatchSession(backend: backend, writer: writer, headerSuffix: headerSuffix, admission: admission, storeRevision: storeRevision)
        }
    }
}
