/// Why a benchmark could not run: bad flags, an endpoint that never answered, or watchers the server
/// never created.
public struct BenchmarkError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Wrapped: Sendable, Hashable {
            case invalidConfiguration
            case endpointUnreachable
            case watchersNotCreated
            case authenticationFailed
        }

        private let wrapped: Wrapped
        private init(_ wrapped: Wrapped) { self.wrapped = wrapped }

        /// A flag is out of range or flags contradict each other.
        public static let invalidConfiguration = Code(.invalidConfiguration)
        /// The warm-up request on a connection failed.
        public static let endpointUnreachable = Code(.endpointUnreachable)
        /// Watch creates went unanswered, so no delivery could be measured.
        public static let watchersNotCreated = Code(.watchersNotCreated)
        /// `--user` was given and Authenticate failed.
        public static let authenticationFailed = Code(.authenticationFailed)

        public var description: String {
            switch wrapped {
            case .invalidConfiguration: "invalid configuration"
            case .endpointUnreachable: "endpoint unreachable"
            case .watchersNotCreated: "watchers not created"
            case .authenticationFailed: "authentication failed"
            }
        }
    }

    public let code: Code
    public let message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
