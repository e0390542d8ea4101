/// One child process of the one-box deployment: which executable to run and with which arguments.
public struct ServiceSpec: Sendable, Hashable {
    /// The name used in log lines ("service etcetera-kv exited ..."); unique within a plan.
    public var name: String
    /// The executable's file name, looked up by an ``ExecutableLocator`` (e.g. `etcetera-kv`).
    public var executable: String
    /// The arguments after the program name.
    public var arguments: [String]

    public init(name: String, executable: String, arguments: [String]) {
        self.name = name
        self.executable = executable
        self.arguments = arguments
    }

    /// A service named after its executable.
    public init(executable: String, arguments: [String]) {
        self.init(name: executable, executable: executable, arguments: arguments)
    }

    /// The command line as a shell would show it, for logs.
    public var commandLine: String {
        ([executable] + arguments).joined(separator: " ")
    }
}
