import EtceteraAPI
import SwiftProtobuf

/// `txn-put`: unconditional Txns of `--txn-ops` Puts each, on keys that walk the key space in order.
public struct TxnPutWorkload: Workload {
    public struct Configuration: Sendable {
        public var total = 10000
        public var keySize = 8
        public var valueSize = 8
        public var keySpaceSize = 1
        public var operationsPerTxn = 1

        public init() {}
    }

    public let name = "txn-put"
    public let total: Int
    private let requests: [Etcdserverpb_TxnRequest]

    public init(_ configuration: Configuration) throws {
        guard configuration.total > 0 else {
            throw BenchmarkError(code: .invalidConfiguration, message: "expected positive --total")
        }
        guard configuration.operationsPerTxn > 0 else {
            throw BenchmarkError(code: .invalidConfiguration, message: "expected positive --txn-ops")
        }
        try KeyEncoding.validate(keySize: configuration.keySize, keySpaceSize: configuration.keySpaceSize)
        let value = KeyEncoding.randomValue(size: configuration.valueSize)
        let operations = configuration.operationsPerTxn
        total = configuration.total
        requests = (0..<configuration.total).map { index in
            var txn = Etcdserverpb_TxnRequest()
            txn.success = (0..<operations).map { position in
                var put = Etcdserverpb_PutRequest()
                put.key = KeyEncoding.key(
                    (index * operations + position) % configuration.keySpaceSize, size: configuration.keySize)
                put.value = value
                var operation = Etcdserverpb_RequestOp()
                operation.requestPut = put
                return operation
            }
            return txn
        }
    }

    public let path = "/etcdserverpb.KV/Txn"

    public func request(_ index: Int) -> any SwiftProtobuf.Message {
        requests[index]
    }
}
