import EtceteraAPI
import Foundation

/// One write request inside a commit group. Every change it makes shares one main revision
/// (`beginRevision + 1`) with increasing sub-revisions; a request that changes nothing leaves the
/// revision where it was.
struct WriteTransaction {
    let session: WriteSession
    let beginRevision: Int64
    private var events: [Mvccpb_Event] = []

    init(session: WriteSession) {
        self.session = session
        beginRevision = session.state.revision
    }

    private var writeRevision: Int64 { beginRevision + 1 }
    /// The revision reads inside the request observe: the request's own once it has changed something.
    private var visibleRevision: Int64 { events.isEmpty ? beginRevision : writeRevision }
    private var readContext: ReadContext { session.readContext(revision: visibleRevision) }

    func finish() {
        if !events.isEmpty { session.commitRevision(events) }
    }

    mutating func put(_ request: Etcdserverpb_PutRequest) throws(MVCCError) -> Etcdserverpb_PutResponse {
        var response = Etcdserverpb_PutResponse()
        let key = [UInt8](request.key)
        // etcd checks the lease before anything else of a put.
        if request.lease != 0, try !session.leaseExists(request.lease) { throw .leaseNotFound }
        let previous = try readContext.heads.head(key)
        if request.ignoreValue || request.ignoreLease, previous == nil { throw .keyNotFound }
        if request.prevKv, let previous { response.prevKv = previous }

        var kv = Mvccpb_KeyValue()
        kv.key = request.key
        kv.value = request.ignoreValue ? previous?.value ?? Data() : request.value
        kv.lease = request.ignoreLease ? previous?.lease ?? 0 : request.lease
        kv.createRevision = previous?.createRevision ?? writeRevision
        kv.modRevision = writeRevision
        kv.version = (previous?.version ?? 0) + 1
        session.record(put: kv, replacing: previous, at: Revision(main: writeRevision, sub: Int64(events.count)))
        events.append(Self.event(.put, kv, previous: previous))

        response.header.revision = writeRevision
        return response
    }

    mutating func deleteRange(_ request: Etcdserverpb_DeleteRangeRequest) throws(MVCCError) -> Etcdserverpb_DeleteRangeResponse {
        var response = Etcdserverpb_DeleteRangeResponse()
        let live = try readContext.heads.heads(in: KeyRange(key: request.key, rangeEnd: request.rangeEnd), limit: 0, countOnly: false).kvs
        if request.prevKv { response.prevKvs = live }
        for previous in live { delete(previous) }
        response.deleted = Int64(live.count)
        response.header.revision = visibleRevision
        return response
    }

    /// Deletes the keys of a revoked lease, all in this request's one revision, as etcd does.
    mutating func revokeLease(_ id: Int64, keys: [[UInt8]]) throws(MVCCError) -> Etcdserverpb_LeaseRevokeResponse {
        for key in keys {
            if let previous = try readContext.heads.head(key) { delete(previous) }
        }
        var response = Etcdserverpb_LeaseRevokeResponse()
        response.header.revision = visibleRevision
        return response
    }

    private mutating func delete(_ previous: Mvccpb_KeyValue) {
        let revision = Revision(main: writeRevision, sub: Int64(events.count))
        session.record(deleteOf: previous, at: revision)
        var tombstone = Mvccpb_KeyValue()
        tombstone.key = previous.key
        tombstone.modRevision = writeRevision
        events.append(Self.event(.delete, tombstone, previous: previous))
    }

    /// Runs a txn as etcd does: every compare (nested ones too) and every check is evaluated against the
    /// state before the txn, then the chosen operations run in order, each seeing the ones before it.
    mutating func txn(_ request: Etcdserverpb_TxnRequest, isWrite: Bool) throws(MVCCError) -> Etcdserverpb_TxnResponse {
        let before = readContext
        let path = try TxnPath(request, evaluatedIn: before)
        if isWrite { try checkPuts(request, path: path, in: before) }
        try checkRanges(request, path: path, in: before)
        var response = try applyBranch(request, path: path)
        response.header.revision = visibleRevision
        return response
    }

    private mutating func applyBranch(_ request: Etcdserverpb_TxnRequest, path: TxnPath) throws(MVCCError) -> Etcdserverpb_TxnResponse {
        var response = Etcdserverpb_TxnResponse()
        response.succeeded = path.succeeded
        var nested = path.nested.makeIterator()
        for operation in path.succeeded ? request.success : request.failure {
            var result = Etcdserverpb_ResponseOp()
            switch operation.request {
            case .requestRange(let range):
                result.response = .responseRange(try readContext.range(range))
            case .requestPut(let put):
                result.response = .responsePut(try self.put(put))
            case .requestDeleteRange(let delete):
                result.response = .responseDeleteRange(try deleteRange(delete))
            case .requestTxn(let txn):
                guard let nestedPath = nested.next() else { throw .corrupt("txn path out of step") }
                var nestedResponse = try applyBranch(txn, path: nestedPath)
                nestedResponse.header = Etcdserverpb_ResponseHeader()
                result.response = .responseTxn(nestedResponse)
            case nil:
                throw .keyNotFound
            }
            response.responses.append(result)
        }
        return response
    }

    private func checkPuts(_ request: Etcdserverpb_TxnRequest, path: TxnPath, in context: ReadContext) throws(MVCCError) {
        var nested = path.nested.makeIterator()
        for operation in path.succeeded ? request.success : request.failure {
            switch operation.request {
            case .requestPut(let put):
                if put.ignoreValue || put.ignoreLease, try context.heads.head([UInt8](put.key)) == nil { throw .keyNotFound }
                if put.lease != 0, try !session.leaseExists(put.lease) { throw .leaseNotFound }
            case .requestTxn(let txn):
                if let nestedPath = nested.next() { try checkPuts(txn, path: nestedPath, in: context) }
            default:
                continue
            }
        }
    }

    private func checkRanges(_ request: Etcdserverpb_TxnRequest, path: TxnPath, in context: ReadContext) throws(MVCCError) {
        var nested = path.nested.makeIterator()
        for operation in path.succeeded ? request.success : request.failure {
            switch operation.request {
            case .requestRange(let range) where range.revision != 0:
                if range.revision > context.currentRevision { throw .futureRevision }
                if range.revision < context.compactRevision { throw .compacted }
            case .requestTxn(let txn):
                if let nestedPath = nested.next() { try checkRanges(txn, path: nestedPath, in: context) }
            default:
                continue
            }
        }
    }

    private static func event(_ type: Mvccpb_Event.EventType, _ kv: Mvccpb_KeyValue, previous: Mvccpb_KeyValue?) -> Mvccpb_Event {
        var event = Mvccpb_Event()
        event.type = type
        event.kv = kv
        if let previous { event.prevKv = previous }
        return event
    }
}

/// Which branch a txn takes, and which branches its nested txns (in the taken branch) take.
struct TxnPath {
    let succeeded: Bool
    let nested: [TxnPath]

    init(_ request: Etcdserverpb_TxnRequest, evaluatedIn context: ReadContext) throws(MVCCError) {
        var succeeded = true
        for compare in request.compare where try !Self.holds(compare, in: context) {
            succeeded = false
            break
        }
        self.succeeded = succeeded
        var nested: [TxnPath] = []
        for operation in succeeded ? request.success : request.failure {
            if case .requestTxn(let txn) = operation.request {
                nested.append(try TxnPath(txn, evaluatedIn: context))
            }
        }
        self.nested = nested
    }

    /// etcd's compare: every key in the range must satisfy it; a missing key compares as a zero
    /// key-value, except that a value compare on a missing key always fails.
    private static func holds(_ compare: Etcdserverpb_Compare, in context: ReadContext) throws(MVCCError) -> Bool {
        let keys = KeyRange(key: compare.key, rangeEnd: compare.rangeEnd)
        let kvs = try context.heads.heads(in: keys, limit: 0, countOnly: false).kvs
        if kvs.isEmpty {
            if compare.target == .value { return false }
            return satisfies(compare, Mvccpb_KeyValue())
        }
        return kvs.allSatisfy { satisfies(compare, $0) }
    }

    private static func satisfies(_ compare: Etcdserverpb_Compare, _ kv: Mvccpb_KeyValue) -> Bool {
        let order: Int
        switch compare.target {
        case .value:
            var expected = Data()
            if case .value(let value) = compare.targetUnion { expected = value }
            order = kv.value.lexicographicallyPrecedes(expected) ? -1 : (expected.lexicographicallyPrecedes(kv.value) ? 1 : 0)
        case .create: order = compareInt64(kv.createRevision, integerOperand(compare))
        case .mod: order = compareInt64(kv.modRevision, integerOperand(compare))
        case .version: order = compareInt64(kv.version, integerOperand(compare))
        case .lease: order = compareInt64(kv.lease, integerOperand(compare))
        case .UNRECOGNIZED:
            order = 0
        }
        switch compare.result {
        case .equal: return order == 0
        case .notEqual: return order != 0
        case .greater: return order > 0
        case .less: return order < 0
        case .UNRECOGNIZED: return true
        }
    }

    /// The compare's number when it matches the target (etcd compares against 0 otherwise).
    private static func integerOperand(_ compare: Etcdserverpb_Compare) -> Int64 {
        switch (compare.target, compare.targetUnion) {
        case (.version, .version(let value)?), (.create, .createRevision(let value)?),
             (.mod, .modRevision(let value)?), (.lease, .lease(let value)?):
            value
        default:
            0
        }
    }

    private static func compareInt64(_ lhs: Int64, _ rhs: Int64) -> Int {
        lhs < rhs ? -1 : (lhs > rhs ? 1 : 0)
    }
}
