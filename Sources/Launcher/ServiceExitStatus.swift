/// How a child process ended, decoded from `waitpid`'s status word.
public enum ServiceExitStatus: Sendable, Hashable, CustomStringConvertible {
    /// The process called `exit` with this code.
    case exited(code: Int32)
    /// The process was killed by this signal.
    case signaled(signal: Int32)
    /// The status could not be collected (someone else reaped the process).
    case unknown

    /// Decodes a `waitpid` status (the `WIFEXITED`/`WTERMSIG` macros are not visible to Swift).
    public init(waitStatus: Int32) {
        let signal = waitStatus & 0x7f
        if signal == 0 {
            self = .exited(code: (waitStatus >> 8) & 0xff)
        } else if signal != 0x7f {
            self = .signaled(signal: signal)
        } else {
            self = .unknown
        }
    }

    /// "exit code 3", "signal 9", as in "service etcetera-kv exited (signal 9), restarting".
    public var description: String {
        switch self {
        case .exited(let code): "exit code \(code)"
        case .signaled(let signal): "signal \(signal)"
        case .unknown: "unknown status"
        }
    }
}
