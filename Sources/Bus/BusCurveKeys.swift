import CZeroMQ
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// CurveZMQ keys that encrypt the bus on `tcp://` endpoints, let clients check they talk to the real
/// server, and let servers admit only known clients (docs/bus.md). `ipc://` endpoints never use them: a
/// Unix socket in the data directory is already private to its owner.
///
/// All servers (request/reply and event publishers) share one key pair. Each client process holds a
/// client pair; servers admit the clients whose public keys are in the keys directory (`client.public`,
/// and one `clients/NAME.public` per further client) through ZeroMQ's ZAP, and refuse every other
/// client during the handshake. Keys are 40-character Z85 text, one per file (``generate(into:)``
/// writes them). A server needs `server.secret`; a client needs `server.public` and its own pair.
public struct BusCurveKeys: Sendable, Hashable {
    public let serverPublicKey: String
    /// Only servers need it; a machine that runs only clients can go without the file.
    public let serverSecretKey: String?
    public let clientPublicKey: String
    public let clientSecretKey: String
    /// The client public keys a server admits: this directory's `client.public` and `clients/*.public`.
    public let admittedClientKeys: [String]

    /// The files of a keys directory.
    public enum FileName {
        public static let serverPublic = "server.public"
        public static let serverSecret = "server.secret"
        public static let clientPublic = "client.public"
        public static let clientSecret = "client.secret"
        /// The directory of further admitted clients' public keys (`NAME.public`).
        public static let admittedClients = "clients"
        public static let publicSuffix = ".public"
    }

    /// - Parameter admittedClientKeys: the client public keys a server admits; by default only
    ///   `clientPublicKey`.
    /// - Throws: `BusError.curveKeysUnusable` if a key is not 40 characters of Z85.
    public init(
        serverPublicKey: String, serverSecretKey: String?, clientPublicKey: String, clientSecretKey: String,
        admittedClientKeys: [String]? = nil
    ) throws(BusError) {
        let admitted = admittedClientKeys ?? [clientPublicKey]
        for key in [serverPublicKey, serverSecretKey, clientPublicKey, clientSecretKey].compactMap({ $0 }) + admitted {
            // The text is not shown: it may be a secret key.
            guard Self.isZ85Key(key) else { throw .curveKeysUnusable("a key of \(key.utf8.count) bytes is not a 40-character Z85 CURVE key") }
        }
        self.serverPublicKey = serverPublicKey
        self.serverSecretKey = serverSecretKey
        self.clientPublicKey = clientPublicKey
        self.clientSecretKey = clientSecretKey
        self.admittedClientKeys = admitted
    }

    /// Whether this machine's libzmq was built with CURVE (`zmq_has("curve")`).
    public static var isSupported: Bool {
        zmq_has("curve") != 0
    }

    /// A fresh key pair (`zmq_curve_keypair`), as Z85 text.
    public static func makeKeyPair() throws(BusError) -> (publicKey: String, secretKey: String) {
        guard isSupported else { throw .curveKeysUnusable("libzmq was built without CURVE") }
        var publicKey = [CChar](repeating: 0, count: 41)
        var secretKey = [CChar](repeating: 0, count: 41)
        guard zmq_curve_keypair(&publicKey, &secretKey) == 0 else {
            throw .curveKeysUnusable("zmq_curve_keypair: \(zmqErrorDescription(zmq_errno()))")
        }
        return (String(cString: publicKey), String(cString: secretKey))
    }

    /// Reads a keys directory; `server.secret` may be missing.
    ///
    /// - Throws: `BusError.curveKeysUnusable` when a key is missing or malformed, or when a secret key
    ///   file can be read by its group or by others (as ssh refuses such a private key): a secret
    ///   anyone on the machine can read authenticates nothing.
    public static func load(directory: String) throws(BusError) -> BusCurveKeys {
        func read(_ path: String, secret: Bool) throws(BusError) -> String? {
            guard FileManager.default.fileExists(atPath: path) else { return nil }
            if secret { try checkPrivate(path) }
            do {
                return try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            } catch {
                throw .curveKeysUnusable("cannot read \(path): \(error.localizedDescription)")
            }
        }
        func required(_ name: String, secret: Bool) throws(BusError) -> String {
            guard let key = try read(directory + "/" + name, secret: secret) else {
                throw .curveKeysUnusable("\(directory)/\(name) is missing (etcetera bus-keys \(directory) makes it)")
            }
            return key
        }
        let clientPublicKey = try required(FileName.clientPublic, secret: false)
        var admitted = [clientPublicKey]
        let clients = directory + "/" + FileName.admittedClients
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: clients)) ?? []).sorted()
        for name in names where name.hasSuffix(FileName.publicSuffix) {
            let path = clients + "/" + name
            guard let key = try read(path, secret: false) else { continue }
            guard binaryKey(key) != nil else { throw .curveKeysUnusable("\(path) does not hold a 40-character Z85 CURVE key") }
            admitted.append(key)
        }
        return try BusCurveKeys(
            serverPublicKey: required(FileName.serverPublic, secret: false),
            serverSecretKey: read(directory + "/" + FileName.serverSecret, secret: true),
            clientPublicKey: clientPublicKey, clientSecretKey: required(FileName.clientSecret, secret: true),
            admittedClientKeys: admitted)
    }

    /// Refuses a secret key file whose mode lets its group or others read or write it.
    private static func checkPrivate(_ path: String) throws(BusError) {
        var status = stat()
        guard stat(path, &status) == 0 else {
            throw .curveKeysUnusable("cannot stat \(path): \(String(cString: strerror(errno)))")
        }
        let mode = status.st_mode & 0o777
        guard mode & 0o077 == 0 else {
            throw .curveKeysUnusable(
                "\(path) is accessible to its group or others (mode \(String(mode, radix: 8))): a secret key must be private; run chmod 600 \(path)")
        }
    }

    /// Makes a server pair and a client pair and writes them into `directory` (created if needed,
    /// mode 0700), secrets readable by the owner only (0600). Existing key files are never overwritten.
    public static func generate(into directory: String) throws(BusError) -> BusCurveKeys {
        let server = try makeKeyPair()
        let client = try makeKeyPair()
        try writeKeyFiles([
            (FileName.serverPublic, server.publicKey, 0o644), (FileName.serverSecret, server.secretKey, 0o600),
            (FileName.clientPublic, client.publicKey, 0o644), (FileName.clientSecret, client.secretKey, 0o600),
        ], into: directory)
        return try BusCurveKeys(
            serverPublicKey: server.publicKey, serverSecretKey: server.secretKey,
            clientPublicKey: client.publicKey, clientSecretKey: client.secretKey)
    }

    /// Makes one more client pair, for a process on another machine (a watch process joining over
    /// TCP): admits it by writing its public key as `clients/NAME.public` under `directory`, and
    /// writes the keys directory that process uses (`server.public` and the new pair) as
    /// `clients/NAME/`, to be copied to its machine. Returns that directory.
    public static func generateClient(named name: String, in directory: String) throws(BusError) -> String {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.".utf8)
        guard !name.isEmpty, !name.hasPrefix("."), name.utf8.allSatisfy(allowed.contains) else {
            throw .curveKeysUnusable("a client name is letters, digits, '-', '_' and '.' (not first), got \"\(name)\"")
        }
        let keys = try load(directory: directory)
        let client = try makeKeyPair()
        let clients = directory + "/" + FileName.admittedClients
        let own = clients + "/" + name
        try writeKeyFiles([
            (FileName.serverPublic, keys.serverPublicKey, 0o644),
            (FileName.clientPublic, client.publicKey, 0o644), (FileName.clientSecret, client.secretKey, 0o600),
        ], into: own)
        try writeKeyFiles([(name + FileName.publicSuffix, client.publicKey, 0o644)], into: clients)
        return own
    }

    /// Writes each key as one line into a new file of `directory` (made 0700 if missing), created with
    /// its mode from the start, so a secret is never readable by others, even for a moment.
    private static func writeKeyFiles(_ files: [(name: String, key: String, mode: mode_t)], into directory: String) throws(BusError) {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw .curveKeysUnusable("cannot create \(directory): \(error.localizedDescription)")
        }
        for file in files where FileManager.default.fileExists(atPath: directory + "/" + file.name) {
            throw .curveKeysUnusable("\(directory)/\(file.name) exists already; remove the old keys first")
        }
        for file in files {
            let path = directory + "/" + file.name
            let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, file.mode)
            guard descriptor >= 0 else {
                throw .curveKeysUnusable("cannot create \(path): \(String(cString: strerror(errno)))")
            }
            defer { close(descriptor) }
            // The umask may have taken bits away from a public key's mode; put them back.
            _ = fchmod(descriptor, file.mode)
            let line = Array((file.key + "\n").utf8)
            guard line.withUnsafeBytes({ write(descriptor, $0.baseAddress, $0.count) }) == line.count else {
                throw .curveKeysUnusable("cannot write \(path): \(String(cString: strerror(errno)))")
            }
        }
    }

    private static let processKeys = Mutex<BusCurveKeys?>(nil)

    /// The keys every bus object of this process uses on `tcp://` endpoints unless its configuration
    /// says otherwise. Each executable sets it once, from `--bus-curve-keys`, before opening the bus.
    public static var forThisProcess: BusCurveKeys? {
        get { processKeys.withLock { $0 } }
        set { processKeys.withLock { $0 = newValue } }
    }

    private static func isZ85Key(_ key: String) -> Bool {
        binaryKey(key) != nil
    }

    /// The 32 bytes of a Z85 key, as ZAP carries a client's key; nil when it is not Z85.
    static func binaryKey(_ key: String) -> [UInt8]? {
        guard key.utf8.count == 40 else { return nil }
        var decoded = [UInt8](repeating: 0, count: 32)
        return zmq_z85_decode(&decoded, key) != nil ? decoded : nil
    }
}

extension ZMQSocket {
    enum CurveRole {
        case server
        case client
    }

    /// Turns CURVE on for this socket if `keys` are given and the endpoint is `tcp://`; must come
    /// before `bind` or `connect`. Returns the keys of a CURVE server, whose context then needs a ZAP
    /// handler (``ZAPHandler``) before it binds; nil otherwise.
    ///
    /// - Throws: on a `tcp://` endpoint without keys that this process refuses (``BusTransportSecurity``).
    func applyCurve(_ keys: BusCurveKeys?, as role: CurveRole, endpoint: String) throws(SetupFailure) -> BusCurveKeys? {
        guard BusTransportSecurity.permits(endpoint: endpoint, curve: keys) else {
            throw SetupFailure(BusTransportSecurity.refusal)
        }
        guard let keys, BusTransportSecurity.isTCP(endpoint) else { return nil }
        switch role {
        case .server:
            guard let secret = keys.serverSecretKey else {
                throw SetupFailure("a CURVE server needs \(BusCurveKeys.FileName.serverSecret)")
            }
            try setOption(ZMQ_CURVE_SERVER, 1)
            try setOption(ZMQ_CURVE_SECRETKEY, bytes: Array(secret.utf8))
            return keys
        case .client:
            try setOption(ZMQ_CURVE_SERVERKEY, bytes: Array(keys.serverPublicKey.utf8))
            try setOption(ZMQ_CURVE_PUBLICKEY, bytes: Array(keys.clientPublicKey.utf8))
            try setOption(ZMQ_CURVE_SECRETKEY, bytes: Array(keys.clientSecretKey.utf8))
            return nil
        }
    }
}
