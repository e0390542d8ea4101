/// `etcetera snapshot …`: etcdctl's offline snapshot commands for Etcetera's snapshot files
/// (docs/snapshot.md).
///
/// ```
/// etcetera snapshot restore FILE [--data-dir DIR] [--name NAME]
/// etcetera snapshot status FILE [--write-out simple|table|json|fields]
/// ```
///
/// Flags take etcdctl's forms: `--flag value`, `--flag=value`, and `-w` for `--write-out`.
public enum SnapshotCommand: Sendable, Hashable {
    /// Builds a data directory from a snapshot (``SnapshotRestore``).
    case restore(file: String, dataDirectory: String)
    /// Prints the snapshot's hash, revision, key count and size (``SnapshotStatus``).
    case status(file: String, format: SnapshotStatus.Format)
    /// `-h`, `--help`: print ``usage``.
    case help

    public static let usage = """
        Usage:

          etcetera snapshot restore FILE [--data-dir DIR] [--name NAME]
            Restores a snapshot into a new data directory (default: NAME.etcd, NAME 'default').
            The directory must not exist or must be empty. `etcetera --data-dir DIR` then serves
            the snapshot's keys, revisions and leases.

          etcetera snapshot status FILE [--write-out simple|table|json|fields]
            Verifies a snapshot and prints its hash, revision, total keys and total size.

        """

    /// Parses the arguments after `snapshot`.
    /// - Throws: `LauncherError` (`.invalidArgument`, `.missingFlagValue`, `.invalidFlagValue`).
    public static func parse(_ arguments: [String]) throws -> SnapshotCommand {
        guard let verb = arguments.first else {
            throw LauncherError(code: .invalidArgument, message: "snapshot needs a command: restore or status")
        }
        if ["-h", "--help", "help"].contains(verb) { return .help }
        guard let accepted = Self.flags[verb] else {
            throw LauncherError(code: .invalidArgument, message: "unknown command \"\(verb)\" for \"etcetera snapshot\"")
        }
        var positional: [String] = []
        var flags: [String: String] = [:]
        var index = arguments.index(after: arguments.startIndex)
        while index < arguments.endIndex {
            let argument = arguments[index]
            index += 1
            guard argument.hasPrefix("-"), argument.count > 1 else {
                positional.append(argument)
                continue
            }
            var name = String(argument.drop { $0 == "-" })
            if ["h", "help"].contains(name) { return .help }
            var value: String?
            if let equals = name.firstIndex(of: "=") {
                value = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            if name == "w" { name = "write-out" }
            guard accepted.contains(name) else {
                throw LauncherError(code: .invalidArgument, message: "unknown flag: \(argument)")
            }
            if value == nil {
                guard index < arguments.endIndex else {
                    throw LauncherError(code: .missingFlagValue, message: "flag needs an argument: --\(name)")
                }
                value = arguments[index]
                index += 1
            }
            flags[name] = value
        }
        guard positional.count == 1, let file = positional.first else {
            throw LauncherError(code: .invalidArgument, message: "snapshot \(verb) requires exactly one argument")
        }
        if verb == "status" {
            let name = flags["write-out"] ?? "simple"
            guard let format = SnapshotStatus.Format(rawValue: name) else {
                throw LauncherError(code: .invalidFlagValue, message: "unsupported output format \"\(name)\"")
            }
            return .status(file: file, format: format)
        }
        return .restore(file: file, dataDirectory: flags["data-dir"] ?? (flags["name"] ?? "default") + ".etcd")
    }

    private static let flags: [String: Set<String>] = [
        "restore": ["data-dir", "name"],
        "status": ["write-out"],
    ]

    /// Runs the command and returns what it prints on standard output.
    /// - Parameter workingDirectory: resolves a relative `--data-dir`.
    /// - Throws: `LauncherError` with the line to print after "Error: ".
    public func run(workingDirectory: String) throws -> String {
        switch self {
        case .help:
            return Self.usage
        case .status(let file, let format):
            return try SnapshotStatus(file: file).render(format)
        case .restore(let file, let dataDirectory):
            let restored = try SnapshotRestore.run(
                file: file, dataDirectory: dataDirectory,
                absoluteDataDirectory: Path.absolute(dataDirectory, workingDirectory: workingDirectory))
            let keys = restored.keyCount == 1 ? "1 key" : "\(restored.keyCount) keys"
            let leases = restored.leaseCount == 1 ? "1 lease" : "\(restored.leaseCount) leases"
            return "restored snapshot \(file) into \(dataDirectory): revision \(restored.revision), \(keys), \(leases)\n"
        }
    }
}
