import SwiftProtobuf

/// How deeply a decoded etcd request may nest. Only a txn nests without bound: each level adds a
/// `RequestOp` and a `TxnRequest`, and etcd limits the levels only through `--max-txn-ops` (a nested
/// txn may hold no more ops than its parent leaves, so at etcd's default of 128 the deepest valid txn
/// has 129 levels). Every decoder of a request — the gateway's, the kv service's on the bus — uses this
/// one limit, so that a txn one of them reads is never undecodable to the other, and a txn deeper than
/// the limit is one etcd refuses as too many operations.
public enum MessageDepth {
    /// Room for 129 txn levels, the `KVRequest` envelope and the innermost op's message.
    public static let limit = 2 * 129 + 8

    public static let binaryDecodingOptions: BinaryDecodingOptions = {
        var options = BinaryDecodingOptions()
        options.messageDepthLimit = limit
        return options
    }()

    /// The same limit for the JSON gateway's requests.
    public static var jsonDecodingOptions: JSONDecodingOptions {
        var options = JSONDecodingOptions()
        options.messageDepthLimit = limit
        return options
    }

    /// Whether decoding failed because the message nests deeper than `limit`.
    public static func isTooDeep(_ error: any Error) -> Bool {
        (error as? BinaryDecodingError) == .messageDepthLimit
    }
}
