import EtceteraAPI

/// Everything one request reads through: live keys, history, and the revisions that bound them.
struct ReadContext {
    let heads: any HeadState
    let history: HistoryReader
    /// The revision the request observes; reads at it come from `heads`.
    let currentRevision: Int64
    let compactRevision: Int64
}

extension ReadContext {
    /// Serves a RangeRequest as etcd does: revision checks, limit with `more`, `count` over the whole
    /// range, min/max revision filters, sorting, keys-only.
    func range(_ request: Etcdserverpb_RangeRequest) throws(MVCCError) -> Etcdserverpb_RangeResponse {
        var revision = request.revision
        if revision > currentRevision { throw .futureRevision }
        if revision <= 0 { revision = currentRevision }
        if revision < compactRevision { throw .compacted }

        let filtersOrSorts = request.sortOrder != .none || request.minModRevision != 0 || request.maxModRevision != 0
            || request.minCreateRevision != 0 || request.maxCreateRevision != 0
        // One more than the limit tells whether there are more. A limit with no successor (Int64.max) is
        // no limit, as in etcd, where the sum wraps to a negative limit that reads everything.
        var fetchLimit = filtersOrSorts ? 0 : Int(clamping: request.limit)
        if fetchLimit > 0 {
            let (next, overflow) = fetchLimit.addingReportingOverflow(1)
            fetchLimit = overflow ? 0 : next
        }

        let keys = KeyRange(key: request.key, rangeEnd: request.rangeEnd)
        var (kvs, count) = revision == currentRevision
            ? try heads.heads(in: keys, limit: fetchLimit, countOnly: request.countOnly)
            : try history.kvs(in: keys, at: revision, limit: fetchLimit, countOnly: request.countOnly)

        if request.maxModRevision != 0 { kvs.removeAll { $0.modRevision > request.maxModRevision } }
        if request.minModRevision != 0 { kvs.removeAll { $0.modRevision < request.minModRevision } }
        if request.maxCreateRevision != 0 { kvs.removeAll { $0.createRevision > request.maxCreateRevision } }
        if request.minCreateRevision != 0 { kvs.removeAll { $0.createRevision < request.minCreateRevision } }

        var order = request.sortOrder
        if request.sortTarget != .key, order == .none { order = .ascend }
        if order == .ascend || order == .descend {
            kvs = Self.sorted(kvs, by: request.sortTarget, descending: order == .descend)
        }

        var response = Etcdserverpb_RangeResponse()
        if request.limit > 0, kvs.count > request.limit {
            kvs.removeLast(kvs.count - Int(request.limit))
            response.more = true
        }
        if request.keysOnly {
            for index in kvs.indices { kvs[index].value.removeAll() }
        }
        response.header.revision = currentRevision
        response.count = Int64(count)
        response.kvs = kvs
        return response
    }

    /// Stable sort: entries with equal targets keep key order in both directions, as etcd's insertion
    /// sort leaves them.
    private static func sorted(
        _ kvs: [Mvccpb_KeyValue], by target: Etcdserverpb_RangeRequest.SortTarget, descending: Bool
    ) -> [Mvccpb_KeyValue] {
        func compare(_ a: Mvccpb_KeyValue, _ b: Mvccpb_KeyValue) -> Int {
            switch target {
            case .version: return a.version < b.version ? -1 : (a.version > b.version ? 1 : 0)
            case .create: return a.createRevision < b.createRevision ? -1 : (a.createRevision > b.createRevision ? 1 : 0)
            case .mod: return a.modRevision < b.modRevision ? -1 : (a.modRevision > b.modRevision ? 1 : 0)
            case .value: return a.value.lexicographicallyPrecedes(b.value) ? -1 : (b.value.lexicographicallyPrecedes(a.value) ? 1 : 0)
            default: return a.key.lexicographicallyPrecedes(b.key) ? -1 : (b.key.lexicographicallyPrecedes(a.key) ? 1 : 0)
            }
        }
        return kvs.enumerated().sorted { lhs, rhs in
            let order = compare(lhs.element, rhs.element)
            if order == 0 { return lhs.offset < rhs.offset }
            return descending ? order > 0 : order < 0
        }.map(\.element)
    }
}
