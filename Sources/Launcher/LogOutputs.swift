import Foundation

/// etcd's `--log-outputs`: where the log lines of the launcher and of every service go. The services
/// inherit the launcher's standard error, so pointing it at the outputs once, before anything starts,
/// sends every line there.
public struct LogOutputs: Sendable, Hashable {
    public enum Target: Sendable, Hashable {
        case standardError
        case standardOutput
        /// A file the lines are appended to (created, readable by its owner only, if missing).
        case file(String)
    }

    public let targets: [Target]

    /// Standard error, etcd's `default`.
    public static let standardError = LogOutputs(targets: [.standardError])

    private init(targets: [Target]) {
        self.targets = targets
    }

    /// etcd 3.4's rules: `default` is standard error; with `--logger capnslog` one of `default`,
    /// `stderr` and `stdout`; with `zap` any of those and file paths (`default` alone).
    /// `systemd/journal` is taken as standard error, which systemd's journal records for a service.
    /// - Throws: `LauncherError` `.invalidFlagValue` with etcd's message for what etcd refuses.
    public init(_ values: [String], format: EtcdLogFormat) throws(LauncherError) {
        let values = values.isEmpty ? ["default"] : values
        switch format {
        case .capnslog:
            guard values.count == 1 else {
                throw LauncherError(
                    code: .invalidFlagValue,
                    message: "--logger=capnslog supports only 1 value in '--log-outputs', got \(Self.goQuotedList(values))")
            }
            switch values[0] {
            case "default", "stderr": targets = [.standardError]
            case "stdout": targets = [.standardOutput]
            default:
                throw LauncherError(
                    code: .invalidFlagValue,
                    message: "unknown log-output \"\(values[0])\" (only supports \"default\", \"stderr\", \"stdout\")")
            }
        case .zap:
            if values.count > 1, values.contains("default") {
                throw LauncherError(code: .invalidFlagValue, message: "multi logoutput for \"default\" is not supported yet")
            }
            var targets: [Target] = []
            for value in values {
                let target: Target = switch value {
                case "default", "stderr", "systemd/journal": .standardError
                case "stdout": .standardOutput
                default: .file(value)
                }
                if !targets.contains(target) { targets.append(target) }
            }
            self.targets = targets
        }
    }

    /// Points this process's standard error at the outputs; processes started afterwards inherit
    /// it. One output is taken over directly; several get a pipe, whose lines a thread of this
    /// process copies to each of them (a line of up to 4 KiB is never torn between writers).
    /// - Throws: `LauncherError` `.invalidFlagValue` if a file cannot be opened for appending.
    public func redirectStandardError() throws(LauncherError) {
        if targets == [.standardError] { return }
        var descriptors: [Int32] = []
        for target in targets {
            switch target {
            case .standardError: descriptors.append(fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 0))
            case .standardOutput: descriptors.append(fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 0))
            case .file(let path):
                let descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
                guard descriptor >= 0 else {
                    throw LauncherError(
                        code: .invalidFlagValue,
                        message: "cannot open log output \(path): \(String(cString: strerror(errno)))")
                }
                descriptors.append(descriptor)
            }
        }
        guard descriptors.count > 1 else {
            dup2(descriptors[0], STDERR_FILENO)
            close(descriptors[0])
            return
        }
        var pipeEnds: [Int32] = [0, 0]
        guard pipe(&pipeEnds) == 0 else {
            throw LauncherError(code: .invalidFlagValue, message: "cannot make the log pipe: \(String(cString: strerror(errno)))")
        }
        dup2(pipeEnds[1], STDERR_FILENO)
        close(pipeEnds[1])
        let reading = pipeEnds[0]
        _ = fcntl(reading, F_SETFD, FD_CLOEXEC)
        let outputs = descriptors
        let copier = Thread {
            var buffer = [UInt8](repeating: 0, count: 64 << 10)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(reading, $0.baseAddress, $0.count) }
                if count < 0, errno == EINTR { continue }
                guard count > 0 else { return }
                for descriptor in outputs { Self.writeAll(buffer[..<count], to: descriptor) }
            }
        }
        copier.name = "log-outputs"
        copier.start()
    }

    private static func writeAll(_ bytes: ArraySlice<UInt8>, to descriptor: Int32) {
        var offset = bytes.startIndex
        while offset < bytes.endIndex {
            let written = bytes[offset...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if written < 0, errno == EINTR { continue }
            guard written > 0 else { return }
            offset += written
        }
    }

    /// Go's `%q` of a string slice: `["a" "b"]`.
    private static func goQuotedList(_ values: [String]) -> String {
        "[" + values.map { "\"\($0)\"" }.joined(separator: " ") + "]"
    }
}
