import Cluster
import EtceteraAPI

/// etcd's Watch service: each client stream becomes a ``WatchSession`` on a watch process.
struct WatchHandler {
    let backend: WatchBackend
    let identity: ClusterIdentity

    func register(in methods: inout MethodTable) {
        let backend = self.backend
        let headerSuffix = identity.headerFieldSuffix
        methods.streaming("etcdserverpb.Watch", "Watch") { _, writer in
            WatchSession(backend: backend, writer: writer, headerSuffix: headerSuffix)
        }
    }
}
