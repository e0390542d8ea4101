/// A gRPC status as it travels in trailers: one of gRPC's codes and a message. etcd clients match on
/// both, so every failure the gateway reports is one of these, and the benchmark client reads them back.
public struct GRPCStatus: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        public let rawValue: Int
        private init(_ rawValue: Int) { self.rawValue = rawValue }

        public static let ok = Code(0)
        public static let cancelled = Code(1)
        public static let unknown = Code(2)
        public static let invalidArgument = Code(3)
        public static let deadlineExceeded = Code(4)
        public static let notFound = Code(5)
        public static let alreadyExists = Code(6)
        public static let permissionDenied = Code(7)
        public static let resourceExhausted = Code(8)
        public static let failedPrecondition = Code(9)
        public static let aborted = Code(10)
        public static let outOfRange = Code(11)
        public static let unimplemented = Code(12)
        public static let internalError = Code(13)
        public static let unavailable = Code(14)
        public static let dataLoss = Code(15)
        public static let unauthenticated = Code(16)

        public init?(rawValue: Int) {
            guard (0...16).contains(rawValue) else { return nil }
            self.rawValue = rawValue
        }

        /// The name grpc-go prints (`rpc error: code = Unavailable desc = …`), which is how etcd's tools
        /// report failures.
        public var name: String {
            Self.names[rawValue]
        }

        private static let names = [
            "OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded", "NotFound", "AlreadyExists",
            "PermissionDenied", "ResourceExhausted", "FailedPrecondition", "Aborted", "OutOfRange",
            "Unimplemented", "Internal", "Unavailable", "DataLoss", "Unauthenticated",
        ]

        public var description: String { String(rawValue) }
    }

    public let code: Code
    public let message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }

    /// The status as grpc-go's error prints it (`rpc error: code = Unavailable desc = …`): how etcd's
    /// tools report failures, and the text etcd puts in a refused watch's `cancel_reason`.
    public var goErrorText: String { "rpc error: code = \(code.name) desc = \(message)" }
}
