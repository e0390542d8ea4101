/// The one error type of the launcher: configuration that cannot be used and services that cannot be run.
///
/// `code` says what went wrong in a form tests and callers can match on; `message` is the line printed for
/// the operator (the launcher exits with status 1 after printing it).
public struct LauncherError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure this is. An opaque struct over a private enum so codes can be added later.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Value: Sendable, Hashable {
            case invalidFlagValue
            case missingFlagValue
            case invalidArgument
            case invalidURL
            case executableNotFound
            case spawnFailed
            case directoryUnusable
            case addressInUse
            case snapshotUnusable
            case dataDirectoryExists
            case configFileUnusable
            case invalidAuthToken
        }

        private let value: Value

        private init(_ value: Value) {
            self.value = value
        }

        /// A flag or `ETCD_*` variable has a value of the wrong type or outside the accepted set.
        public static let invalidFlagValue = Code(.invalidFlagValue)
        /// A flag that takes a value was the last argument.
        public static let missingFlagValue = Code(.missingFlagValue)
        /// An argument that is not a flag (etcd accepts none).
        public static let invalidArgument = Code(.invalidArgument)
        /// A client URL that is malformed or that Etcetera cannot serve.
        public static let invalidURL = Code(.invalidURL)
        /// A service executable is missing from the binary directory.
        public static let executableNotFound = Code(.executableNotFound)
        /// The operating system refused to start a service process.
        public static let spawnFailed = Code(.spawnFailed)
        /// The data directory or the bus directory cannot be created.
        public static let directoryUnusable = Code(.directoryUnusable)
        /// Something else already listens on the client address.
        public static let addressInUse = Code(.addressInUse)
        /// A snapshot file that cannot be read, or that fails verification.
        public static let snapshotUnusable = Code(.snapshotUnusable)
        /// `snapshot restore` into a data directory that already holds something.
        public static let dataDirectoryExists = Code(.dataDirectoryExists)
        /// `--config-file` names a file that cannot be read or is not a YAML mapping of etcd's keys.
        public static let configFileUnusable = Code(.configFileUnusable)
        /// `--auth-token` that etcd would refuse to start with (bad options, unreadable or unusable keys).
        public static let invalidAuthToken = Code(.invalidAuthToken)

        public var description: String {
            String(describing: value)
        }
    }

    public let code: Code
    public let message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String {
        message
    }
}
