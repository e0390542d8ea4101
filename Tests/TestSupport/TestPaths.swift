import Foundation

/// Where the built executables and scratch directories are.
public enum TestPaths {
    /// The build products directory: the one holding the running test bundle, unless
    /// `ETCETERA_BIN_DIR` says otherwise.
    public static var binaryDirectory: String {
        if let override = ProcessInfo.processInfo.environment["ETCETERA_BIN_DIR"] { return override }
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: executable).deletingLastPathComponent().path
    }

    public static func executable(_ name: String) -> String {
        binaryDirectory + "/" + name
    }

    public static func temporaryDirectory(prefix: String) -> String {
        let path = NSTemporaryDirectory() + "\(prefix)-" + UUID().uuidString.prefix(8)
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}
