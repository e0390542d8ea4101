import Logging
import Synchronization

/// The one rule for what protects a `tcp://` bus endpoint, applied by every Etcetera executable (the
/// launcher before it starts anything, each service through its bus objects).
///
/// A `tcp://` endpoint carries every committed value and accepts puts, deletes and snapshots from
/// whoever reaches it, so it needs CURVE keys (`--bus-curve-keys DIR`: encryption, and clients admitted
/// by key). Plaintext TCP is refused unless the operator says so with `--bus-insecure`, and then each
/// start warns. `ipc://` endpoints need neither: their sockets sit in the private data directory.
public enum BusTransportSecurity {
    /// The flag that names the CURVE keys directory.
    public static let curveKeysFlag = "--bus-curve-keys"
    /// The flag that accepts a plaintext, unauthenticated bus on `tcp://` endpoints.
    public static let insecureFlag = "--bus-insecure"

    /// What this process decided at start (``useForThisProcess(curveKeysDirectory:insecure:logger:)``).
    /// A process that never decides (tests of the bus itself) may use plaintext TCP.
    private static let plaintextTCPRefused = Mutex(false)

    /// Why plaintext TCP is refused, naming both ways out.
    public static let refusal = "a tcp:// bus endpoint needs CURVE keys: give \(curveKeysFlag) DIR (etcetera bus-keys DIR makes them), or \(insecureFlag) to accept a plaintext bus that anyone who reaches the port can use"

    /// The warning every start logs with `--bus-insecure` and no keys.
    public static let insecureWarning = "\(insecureFlag): tcp:// bus endpoints are plaintext and unauthenticated; anyone who reaches them can read and change every key (use \(curveKeysFlag))"

    /// Sets up the bus security of this process from its flags, before it opens the bus: with a keys
    /// directory, every bus object uses CURVE on `tcp://` endpoints (``BusCurveKeys/forThisProcess``);
    /// without one, `tcp://` endpoints are refused when bound or connected, unless `insecure`, which
    /// logs ``insecureWarning``.
    ///
    /// - Throws: `BusError.curveKeysUnusable` when the keys cannot be loaded or a secret key file is
    ///   readable by others.
    public static func useForThisProcess(curveKeysDirectory: String?, insecure: Bool, logger: Logger) throws(BusError) {
        if let curveKeysDirectory {
            BusCurveKeys.forThisProcess = try BusCurveKeys.load(directory: curveKeysDirectory)
            plaintextTCPRefused.withLock { $0 = true }
            return
        }
        plaintextTCPRefused.withLock { $0 = !insecure }
        if insecure { logger.warning("\(insecureWarning)") }
    }

    /// The launcher's check of the endpoints it will hand to its services: throws ``refusal`` when one
    /// is `tcp://` and there are neither keys nor `insecure`, or the keys' error when the keys directory
    /// is unusable (a missing key, a secret others can read), before any service starts and fails on
    /// it; returns the warning to log, if any.
    public static func check(endpoints: [String], curveKeysDirectory: String?, insecure: Bool) throws(BusError) -> String? {
        if let curveKeysDirectory {
            _ = try BusCurveKeys.load(directory: curveKeysDirectory)
            return nil
        }
        if insecure { return insecureWarning }
        if let endpoint = endpoints.first(where: isTCP) { throw .plaintextRefused(endpoint, refusal) }
        return nil
    }

    /// Whether `endpoint` may be bound or connected with `curve`; a bus object asks before it does.
    static func permits(endpoint: String, curve: BusCurveKeys?) -> Bool {
        curve != nil || !isTCP(endpoint) || !plaintextTCPRefused.withLock { $0 }
    }

    static func isTCP(_ endpoint: String) -> Bool {
        endpoint.hasPrefix("tcp://")
    }
}
