import CZeroMQ
import Foundation
import Synchronization

/// CurveZMQ keys that encrypt the bus on `tcp://` endpoints and let clients check they talk to the
/// real server (docs/bus.md). `ipc://` endpoints never use them: a Unix socket in the data directory is
/// already private to its owner.
///
/// All servers (request/reply and event publishers) share one key pair and all clients another, kept as
/// 40-character Z85 text in four files of a keys directory (``generate(into:)`` writes them). A server
/// needs `server.secret`; a client needs `server.public` and the client pair. A client holding a
/// different server public key cannot complete the handshake, so it is never connected.
public struct BusCurveKeys: Sendable, Hashable {
    public let serverPublicKey: String
    /// Only servers need it; a machine that runs only clients can go without the file.
    public let serverSecretKey: String?
    public let clientPublicKey: String
    public let clientSecretKey: String

    /// The files of a keys directory.
    public enum FileName {
        public static let serverPublic = "server.public"
        public static let serverSecret = "server.secret"
        public static let clientPublic = "client.public"
        public static let clientSecret = "client.secret"
    }

    /// - Throws: `BusError.curveKeysUnusable` if a key is not 40 characters of Z85.
    public init(serverPublicKey: String, serverSecretKey: String?, clientPublicKey: String, clientSecretKey: String) throws(BusError) {
        for key in [serverPublicKey, serverSecretKey, clientPublicKey, clientSecretKey].compactMap({ $0 }) {
            guard Self.isZ85Key(key) else { throw .curveKeysUnusable("\"\(key)\" is not a 40-character Z85 CURVE key") }
        }
        self.serverPublicKey = serverPublicKey
        self.serverSecretKey = serverSecretKey
        self.clientPublicKey = clientPublicKey
        self.clientSecretKey = clientSecretKey
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
    public static func load(directory: String) throws(BusError) -> BusCurveKeys {
        func read(_ name: String) throws(BusError) -> String? {
            let path = directory + "/" + name
            guard FileManager.default.fileExists(atPath: path) else { return nil }
            do {
                return try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            } catch {
                throw .curveKeysUnusable("cannot read \(path): \(error.localizedDescription)")
            }
        }
        func required(_ name: String) throws(BusError) -> String {
            guard let key = try read(name) else { throw .curveKeysUnusable("\(directory)/\(name) is missing (etcetera bus-keys \(directory) makes it)") }
            return key
        }
        return try BusCurveKeys(
            serverPublicKey: required(FileName.serverPublic), serverSecretKey: read(FileName.serverSecret),
            clientPublicKey: required(FileName.clientPublic), clientSecretKey: required(FileName.clientSecret))
    }

    /// Makes a server pair and a client pair and writes them into `directory` (created if needed),
    /// secrets readable by the owner only. Existing key files are never overwritten.
    public static func generate(into directory: String) throws(BusError) -> BusCurveKeys {
        let server = try makeKeyPair()
        let client = try makeKeyPair()
        let files = [
            (FileName.serverPublic, server.publicKey, 0o644), (FileName.serverSecret, server.secretKey, 0o600),
            (FileName.clientPublic, client.publicKey, 0o644), (FileName.clientSecret, client.secretKey, 0o600),
        ]
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw .curveKeysUnusable("cannot create \(directory): \(error.localizedDescription)")
        }
        for (name, _, _) in files where FileManager.default.fileExists(atPath: directory + "/" + name) {
            throw .curveKeysUnusable("\(directory)/\(name) exists already; remove the old keys first")
        }
        for (name, key, permissions) in files {
            let path = directory + "/" + name
            guard FileManager.default.createFile(atPath: path, contents: Data((key + "\n").utf8), attributes: [.posixPermissions: permissions]) else {
                throw .curveKeysUnusable("cannot write \(path)")
            }
        }
        return try BusCurveKeys(
            serverPublicKey: server.publicKey, serverSecretKey: server.secretKey,
            clientPublicKey: client.publicKey, clientSecretKey: client.secretKey)
    }

    private static let processKeys = Mutex<BusCurveKeys?>(nil)

    /// The keys every bus object of this process uses on `tcp://` endpoints unless its configuration
    /// says otherwise. Each executable sets it once, from `--bus-curve-keys`, before opening the bus.
    public static var forThisProcess: BusCurveKeys? {
        get { processKeys.withLock { $0 } }
        set { processKeys.withLock { $0 = newValue } }
    }

    private static func isZ85Key(_ key: String) -> Bool {
        guard key.utf8.count == 40 else { return false }
        var decoded = [UInt8](repeating: 0, count: 32)
        return zmq_z85_decode(&decoded, key) != nil
    }
}

extension ZMQSocket {
    enum CurveRole {
        case server
        case client
    }

    /// Turns CURVE on for this socket if `keys` are given and the endpoint is `tcp://`; must come
    /// before `bind` or `connect`.
    func applyCurve(_ keys: BusCurveKeys?, as role: CurveRole, endpoint: String) throws(SetupFailure) {
        guard let keys, endpoint.hasPrefix("tcp://") else { return }
        switch role {
        case .server:
            guard let secret = keys.serverSecretKey else {
                throw SetupFailure("a CURVE server needs \(BusCurveKeys.FileName.serverSecret)")
            }
            try setOption(ZMQ_CURVE_SERVER, 1)
            try setOption(ZMQ_CURVE_SECRETKEY, bytes: Array(secret.utf8))
        case .client:
            try setOption(ZMQ_CURVE_SERVERKEY, bytes: Array(keys.serverPublicKey.utf8))
            try setOption(ZMQ_CURVE_PUBLICKEY, bytes: Array(keys.clientPublicKey.utf8))
            try setOption(ZMQ_CURVE_SECRETKEY, bytes: Array(keys.clientSecretKey.utf8))
        }
    }
}

extension BusCurveKeys {
    /// Loads the keys of `--bus-curve-keys` for every bus object of this process; nil leaves CURVE off.
    public static func useForThisProcess(keysDirectory: String?) throws(BusError) {
        guard let keysDirectory else { return }
        forThisProcess = try load(directory: keysDirectory)
    }
}
