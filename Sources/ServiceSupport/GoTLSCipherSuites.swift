/// The TLS cipher suites etcd's `--cipher-suites` takes, by the names Go gives them (its secure and
/// insecure suites, and the two ChaCha20 spellings etcd adds), with their IANA code points. The
/// launcher checks names with it, as etcd does at start; the gateway turns them into code points.
public enum GoTLSCipherSuites {
    /// The code point of the suite Go calls `name`; nil for a name Go does not know.
    public static func codePoint(named name: String) -> UInt16? {
        codePoints[name]
    }

    /// TLS 1.3's suites: Go accepts their names in the list but never applies them (TLS 1.3's suites
    /// are not configurable), and neither does the gateway.
    public static func isTLS13(_ codePoint: UInt16) -> Bool {
        (0x1301...0x1303).contains(codePoint)
    }

    private static let codePoints: [String: UInt16] = [
        "TLS_RSA_WITH_AES_128_CBC_SHA": 0x002F,
        "TLS_RSA_WITH_AES_256_CBC_SHA": 0x0035,
        "TLS_RSA_WITH_AES_128_GCM_SHA256": 0x009C,
        "TLS_RSA_WITH_AES_256_GCM_SHA384": 0x009D,
        "TLS_AES_128_GCM_SHA256": 0x1301,
        "TLS_AES_256_GCM_SHA384": 0x1302,
        "TLS_CHACHA20_POLY1305_SHA256": 0x1303,
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": 0xC009,
        "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": 0xC00A,
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": 0xC013,
        "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": 0xC014,
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": 0xC02B,
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": 0xC02C,
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": 0xC02F,
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": 0xC030,
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": 0xCCA8,
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": 0xCCA9,
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305": 0xCCA8,
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305": 0xCCA9,
        // Go's insecure suites, which etcd accepts too.
        "TLS_RSA_WITH_RC4_128_SHA": 0x0005,
        "TLS_RSA_WITH_3DES_EDE_CBC_SHA": 0x000A,
        "TLS_RSA_WITH_AES_128_CBC_SHA256": 0x003C,
        "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA": 0xC007,
        "TLS_ECDHE_RSA_WITH_RC4_128_SHA": 0xC011,
        "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA": 0xC012,
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256": 0xC023,
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256": 0xC027,
    ]
}
