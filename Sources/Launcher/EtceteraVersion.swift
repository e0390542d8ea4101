/// Version information printed by `etcetera --version`.
public enum EtceteraVersion {
    /// The version of Etcetera itself.
    public static let current = "0.1.0"

    /// The etcd API version Etcetera serves; clients negotiate features on it.
    public static let etcdAPI = "3.4"

    /// The lines `--version` prints, in the shape of `etcd --version` so scripts that grep it keep working.
    public static var lines: [String] {
        [
            "etcetera version \(current)",
            "etcd API version \(etcdAPI)",
        ]
    }
}
