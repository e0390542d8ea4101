/// Where the `ipc://` sockets of a one-box deployment live.
///
/// Sockets normally live in `<data-dir>/bus/`. A Unix domain socket path is limited to
/// ``maximumSocketPathLength`` bytes (`sun_path` holds 108 bytes including the terminating NUL), so when
/// `<data-dir>/bus/<longest socket name>` would be longer, all sockets move together to
/// `/tmp/etcetera-<hash>/`, where `<hash>` is the 16 hex digits of the 64-bit FNV-1a hash of the absolute
/// data directory: the same data directory always maps to the same socket directory (restarts find it),
/// different data directories do not collide. `/tmp` rather than `$TMPDIR` keeps the fallback short.
public struct BusLayout: Sendable, Hashable {
    /// The longest path `bind(2)` accepts for a Unix domain socket on Linux.
    public static let maximumSocketPathLength = 107

    /// The directory holding the sockets.
    public let directory: String
    /// Whether the data directory was too deep and the sockets live under `/tmp`.
    public let usesFallback: Bool

    /// - Parameters:
    ///   - dataDirectory: the absolute data directory.
    ///   - socketNames: every socket file name the plan uses; the longest decides the fallback.
    ///   - fallbackParent: where the fallback directory is created.
    public init(dataDirectory: String, socketNames: [String], fallbackParent: String = "/tmp") {
        let preferred = Path.join(dataDirectory, "bus")
        let longest = socketNames.map(\.utf8.count).max() ?? 0
        if preferred.utf8.count + 1 + longest <= Self.maximumSocketPathLength {
            directory = preferred
            usesFallback = false
        } else {
            directory = Path.join(fallbackParent, "etcetera-" + Path.fnv1aHex(dataDirectory))
            usesFallback = true
        }
    }

    /// The file system path of a socket.
    public func path(of socketName: String) -> String {
        Path.join(directory, socketName)
    }

    /// The ZeroMQ endpoint of a socket: `ipc://<directory>/<socketName>`.
    public func endpoint(of socketName: String) -> String {
        "ipc://" + path(of: socketName)
    }
}
