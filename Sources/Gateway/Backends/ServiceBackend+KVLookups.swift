import EtceteraAPI
import GRPCWire

/// Questions the gateway asks the kv store for itself rather than for a client's call.
extension ServiceBackend {
    /// The kv store's current revision, for responses the gateway writes itself (etcd's headers carry
    /// it); nil if the kv store does not answer.
    func currentRevision() async -> Int64? {
        var request = Etcetera_Kv_KVRequest()
        request.status = Etcetera_Kv_StoreStatusRequest()
        guard case .status(let status)? = try? await call(request) else { return nil }
        return status.revision
    }

    /// The keys attached to `lease` now, in key order; none for a lease the kv store does not know.
    func attachedKeys(of lease: Int64) async throws(GRPCStatus) -> [[UInt8]] {
        var request = Etcetera_Kv_KVRequest()
        request.leaseKeys.id = lease
        guard case .leaseKeys(let found) = try await call(request) else { throw ServiceBackend.mismatch }
        return found.keys.map { Array($0) }
    }
}
