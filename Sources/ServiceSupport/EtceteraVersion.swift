/// Version information: printed by `etcetera --version`, logged by every service, reported by Status.
public enum EtceteraVersion {
    /// The version of Etcetera itself.
    public static let current = "0.1.0"

    /// The etcd API version Etcetera serves; clients negotiate features on it.
    public static let etcdAPI = "3.4"

    /// The server version Status reports: the etcd release whose behaviour Etcetera reproduces.
    /// Clients compare it with their own to decide which features to use.
    public static let etcdServer = "3.4.23"

    /// The cluster version `/version` reports: etcd reports its major.minor with patch 0.
    public static let etcdCluster = "3.4.0"

    /// The lines `--version` prints, in the layout of `etcd --version` (`etcd Version: 3.4.23`, `Git SHA:
    /// …`, `Go Version: …`, `Go OS/Arch: linux/amd64`) so that scripts that split them on ": " keep
    /// working: Etcetera's version, then the etcd API and server version it speaks, then the platform.
    public static var lines: [String] {
        [
            "etcetera Version: \(current)",
            "etcd API Version: \(etcdAPI)",
            "etcd Server Version: \(etcdServer)",
            "OS/Arch: \(platform)",
        ]
    }

    /// `linux/amd64` as Go names it (etcd prints its build's `GOOS/GOARCH`).
    public static var platform: String {
        #if os(Linux)
        let system = "linux"
        #elseif os(macOS)
        let system = "darwin"
        #else
        let system = "unknown"
        #endif
        #if arch(x86_64)
        let architecture = "amd64"
        #elseif arch(arm64)
        let architecture = "arm64"
        #else
        let architecture = "unknown"
        #endif
        return "\(system)/\(architecture)"
    }
}
