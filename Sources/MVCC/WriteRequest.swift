import EtceteraAPI

/// A request that may change the store, and so is ordered through the single writer.
public enum WriteRequest: Sendable {
    case put(Etcdserverpb_PutRequest)
    case deleteRange(Etcdserverpb_DeleteRangeRequest)
    case txn(Etcdserverpb_TxnRequest)
    case compact(Etcdserverpb_CompactionRequest)
    /// Leases granted by the lease service, which puts may name from now on, each with the TTL it
    /// was granted (kept so that a snapshot of the store holds its leases whole).
    case registerLeases([(id: Int64, ttl: Int64)])
    /// Deletes every key attached to the lease in one revision and forgets the lease.
    case revokeLease(Int64)
}

/// The reply to a `WriteRequest`, of the matching case.
public enum WriteResponse: Sendable {
    case put(Etcdserverpb_PutResponse)
    case deleteRange(Etcdserverpb_DeleteRangeResponse)
    case txn(Etcdserverpb_TxnResponse)
    case compact(Etcdserverpb_CompactionResponse)
    /// The revision the store is at.
    case registerLeases(revision: Int64)
    case revokeLease(Etcdserverpb_LeaseRevokeResponse)
}

extension Etcdserverpb_TxnRequest {
    /// True when some range in the txn reads at an explicit past revision: such a txn must see every
    /// earlier write's history on disk, so the writer commits the pending group before applying it.
    var readsPastRevision: Bool {
        (success + failure).contains {
            switch $0.request {
            case .requestRange(let range): range.revision != 0
            case .requestTxn(let nested): nested.readsPastRevision
            default: false
            }
        }
    }
}
