import EtceteraAPI
import Foundation
import Testing

@testable import KVService

/// The operation counters behind etcd_mvcc_{range,put,delete,txn}_total, checked against what etcd 3.4
/// counts for the same requests.
@Suite("Operation counts")
struct OperationCountTests {
    private func tally(_ request: Etcdserverpb_RequestOp.OneOf_Request, _ response: Etcdserverpb_ResponseOp.OneOf_Response? = nil) -> OperationTally {
        var tally = OperationTally()
        tally.add(request, response)
        return tally
    }

    @Test("a plain put, range or delete is one operation; reading the previous value adds a range")
    func singleOperations() {
        var put = Etcdserverpb_PutRequest()
        #expect(tally(.requestPut(put)) == OperationTally(ranges: 0, puts: 1, deletes: 0))
        put.prevKv = true
        #expect(tally(.requestPut(put)) == OperationTally(ranges: 1, puts: 1, deletes: 0))
        var delete = Etcdserverpb_DeleteRangeRequest()
        delete.prevKv = true
        #expect(tally(.requestDeleteRange(delete)) == OperationTally(ranges: 1, puts: 0, deletes: 1))
        #expect(tally(.requestRange(Etcdserverpb_RangeRequest())) == OperationTally(ranges: 1, puts: 0, deletes: 0))
    }

    @Test("a txn reads once per compare and counts the branch that ran, nested txns included")
    func txns() {
        var nested = Etcdserverpb_TxnRequest()
        nested.compare = [Etcdserverpb_Compare()]
        nested.success = [op(.requestDeleteRange(Etcdserverpb_DeleteRangeRequest()))]
        var txn = Etcdserverpb_TxnRequest()
        txn.compare = [Etcdserverpb_Compare(), Etcdserverpb_Compare()]
        txn.success = [op(.requestPut(Etcdserverpb_PutRequest())), op(.requestTxn(nested))]
        txn.failure = [op(.requestRange(Etcdserverpb_RangeRequest()))]

        var nestedOutcome = Etcdserverpb_TxnResponse()
        nestedOutcome.succeeded = true
        nestedOutcome.responses = [response(.responseDeleteRange(Etcdserverpb_DeleteRangeResponse()))]
        var succeeded = Etcdserverpb_TxnResponse()
        succeeded.succeeded = true
        succeeded.responses = [response(.responsePut(Etcdserverpb_PutResponse())), response(.responseTxn(nestedOutcome))]
        #expect(tally(.requestTxn(txn), .responseTxn(succeeded)) == OperationTally(ranges: 3, puts: 1, deletes: 1))

        var failed = Etcdserverpb_TxnResponse()
        failed.responses = [response(.responseRange(Etcdserverpb_RangeResponse()))]
        #expect(tally(.requestTxn(txn), .responseTxn(failed)) == OperationTally(ranges: 3, puts: 0, deletes: 0))
    }

    @Test("the counters add served requests only, and count a txn when it made more than one operation")
    func counters() {
        let counters = OperationCounters()
        var put = Etcetera_Kv_KVRequest()
        put.put = Etcdserverpb_PutRequest()
        var putReply = Etcetera_Kv_KVReply()
        putReply.put = Etcdserverpb_PutResponse()
        counters.record(put.request, putReply.reply)
        var refused = Etcetera_Kv_KVReply()
        refused.error.code = "mvcc.key_not_found"
        counters.record(put.request, refused.reply)
        put.put.prevKv = true
        counters.record(put.request, putReply.reply)
        let current = counters.current
        #expect(current.puts == 2)
        #expect(current.ranges == 1)
        #expect(current.txns == 1)
        #expect(current.deletes == 0)
    }

    private func op(_ request: Etcdserverpb_RequestOp.OneOf_Request) -> Etcdserverpb_RequestOp {
        var op = Etcdserverpb_RequestOp()
        op.request = request
        return op
    }

    private func response(_ response: Etcdserverpb_ResponseOp.OneOf_Response) -> Etcdserverpb_ResponseOp {
        var op = Etcdserverpb_ResponseOp()
        op.response = response
        return op
    }
}
