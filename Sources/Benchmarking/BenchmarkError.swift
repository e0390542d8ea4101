/// Why a benchmark could not run: bad flags or an endpoint that never answered.
public struct BenchmarkError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Wrapped: Sendable, Hashable {
            case invalidConfiguration
            case endpointUnreachable
        }

        private let wrapped: Wrapped
        private init(_ wrapped: Wrapped) { self.wrapped = wrapped }

        /// A flag is out of range or flags contradict each other.
        public static let invalidConfiguration = Code(.invalidConfiguration)
        /// The warm-up request on a connection failed.
        public static let endpointUnreachable = Code(.endpointUnreachable)

        public var description: String {
            switch wrapped {
            case .invalidConfiguration: "invalid configuration"
            case .endpointUnreachable: "endpoint unreachable"
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
