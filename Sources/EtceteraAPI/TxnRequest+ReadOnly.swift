extension Etcdserverpb_TxnRequest {
    /// True when no branch can write. etcd serves such txns without the writer and without the
    /// replication size limit. Like etcd, a nested txn counts as a possible write.
    public var isReadOnly: Bool {
        (success + failure).allSatisfy {
            if case .requestRange = $0.request { return true }
            return false
        }
    }
}
