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

    /// The lines `--version` prints, in the shape of `etcd --version` so scripts that grep it keep working.
    public static var lines: [String] {
        [
            "etcetera version \(current)",
            "etcd API version \(etcdAPI)",
        ]
    }
}
