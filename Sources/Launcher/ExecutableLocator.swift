#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Finds the executable of a service by file name.
///
/// The launcher uses ``besideRunningExecutable(environment:)``: the service binaries are built next to
/// `etcetera`, and `ETCETERA_BIN_DIR` overrides the directory. Tests inject ``directory(_:)`` or a closure
/// to run harmless system binaries instead.
public struct ExecutableLocator: Sendable {
    /// Where the locator looks, for error messages.
    public let searchDescription: String
    private let lookup: @Sendable (String) -> String?

    /// - Parameters:
    ///   - searchDescription: where `lookup` looks, shown when an executable is missing.
    ///   - lookup: the absolute path of an executable name, or `nil` if there is none.
    public init(searchDescription: String, lookup: @escaping @Sendable (String) -> String?) {
        self.searchDescription = searchDescription
        self.lookup = lookup
    }

    /// Executables in one directory (they must be executable by this process).
    public static func directory(_ directory: String) -> ExecutableLocator {
        ExecutableLocator(searchDescription: directory) { name in
            let path = Path.join(directory, name)
            return access(path, X_OK) == 0 ? path : nil
        }
    }

    /// `ETCETERA_BIN_DIR` if set, otherwise the directory of the running executable.
    public static func besideRunningExecutable(environment: [String: String]) -> ExecutableLocator {
        if let override = environment["ETCETERA_BIN_DIR"], !override.isEmpty {
            return directory(override)
        }
        guard let executable = runningExecutablePath else {
            return ExecutableLocator(searchDescription: "(unknown executable directory)") { _ in nil }
        }
        return directory(String(executable[..<(executable.lastIndex(of: "/") ?? executable.startIndex)]))
    }

    /// The absolute path of the running executable: `/proc/self/exe` resolved on Linux.
    public static var runningExecutablePath: String? {
        #if os(Linux)
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        if length > 0 {
            return String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        #endif
        return Bundle.main.executablePath
    }

    /// The path of `executable`: a name is looked up; a path (with a `/`, such as the program of
    /// `--auth-backend exec:/opt/bin/backend`) is taken as it is.
    /// - Throws: `LauncherError` with `.executableNotFound`.
    public func locate(_ executable: String) throws -> String {
        if executable.contains("/") {
            guard access(executable, X_OK) == 0 else {
                throw LauncherError(code: .executableNotFound, message: "cannot execute \(executable)")
            }
            return executable
        }
        guard let path = lookup(executable) else {
            throw LauncherError(
                code: .executableNotFound,
                message: "cannot find executable \(executable) in \(searchDescription) (set ETCETERA_BIN_DIR)"
            )
        }
        return path
    }
}
