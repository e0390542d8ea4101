import EtceteraAPI
import SwiftProtobuf

/// `put`: single-key Puts of a shared random value on random (or sequential) keys of a key space, or
/// each with a value of its own.
public struct PutWorkload: Workload {
    public struct Configuration: Sendable {
        public var total = 10000
        public var keySize = 8
        public var valueSize = 8
        public var keySpaceSize = 1
        public var sequentialKeys = false
        /// Gives every put its own random value instead of etcd's one shared value, so that a store
        /// that compresses its files (LevelDB) keeps every byte written, as one that does not (bbolt)
        /// does, instead of compressing repeats of one value.
        public var distinctValues = false

        public init() {}
    }

    public let name = "put"
    public let total: Int
    private let requests: [Etcdserverpb_PutRequest]

    public init(_ configuration: Configuration) throws {
        guard configuration.total > 0 else {
            throw BenchmarkError(code: .invalidConfiguration, message: "expected positive --total")
        }
        try KeyEncoding.validate(keySize: configuration.keySize, keySpaceSize: configuration.keySpaceSize)
        let value = KeyEncoding.randomValue(size: configuration.valueSize)
        var generator = SystemRandomNumberGenerator()
        var values = FastRandomBytes(seed: generator.next())
        total = configuration.total
        requests = (0..<configuration.total).map { index in
            let number =
                configuration.sequentialKeys
                ? index % configuration.keySpaceSize
                : Int.random(in: 0..<configuration.keySpaceSize, using: &generator)
            var request = Etcdserverpb_PutRequest()
            request.key = KeyEncoding.key(number, size: configuration.keySize)
            request.value = configuration.distinctValues ? values.next(count: configuration.valueSize) : value
            return request
        }
    }

    public let path = "/etcdserverpb.KV/Put"

    public func request(_ index: Int) -> any SwiftProtobuf.Message {
        requests[index]
    }
}
