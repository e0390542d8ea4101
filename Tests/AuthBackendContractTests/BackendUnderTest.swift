import Bus
import EtceteraAPI
import Foundation
import Logging
import Testing
import TestSupport

/// One auth backend the contract suite runs against: how to start its executable with the fixture, and
/// whether it takes changes over the bus. To run the suite against your own backend, add an entry to
/// ``all`` (docs/auth-plugins.md, "The contract suite").
struct BackendUnderTest: Sendable, CustomTestStringConvertible {
    enum Kind: Sendable {
        /// Takes the Auth API's changes (etcetera-auth); seeded with the fixture through the bus.
        case writable
        /// Reads the auth file (`--file`), answers changes with `auth.read_only`; seeded by the file.
        case fileReading
    }

    let name: String
    let executable: String
    let kind: Kind

    var testDescription: String { name }

    /// etcetera-auth, the default backend.
    static let builtin = BackendUnderTest(name: "etcetera-auth", executable: TestPaths.executable("etcetera-auth"), kind: .writable)
    /// The Swift file backend.
    static let swiftFile = BackendUnderTest(name: "etcetera-auth-file", executable: TestPaths.executable("etcetera-auth-file"), kind: .fileReading)
    /// The C file backend, built by `make -C Plugins/auth-c`.
    static let cFile = BackendUnderTest(name: "etcetera-auth-c", executable: repositoryRoot + "/Plugins/auth-c/etcetera-auth-c", kind: .fileReading)

    /// Every backend whose executable exists (the C one only once it has been built).
    static var all: [BackendUnderTest] {
        [builtin, swiftFile, cFile].filter { FileManager.default.isExecutableFile(atPath: $0.executable) }
    }

    /// The backends that read an auth file.
    static var fileReading: [BackendUnderTest] { all.filter { $0.kind == .fileReading } }

    private static var repositoryRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }

    /// The standard backend command line (docs/auth-plugins.md): `--file` for file backends, `--data-dir`
    /// and `--bcrypt-cost` for etcetera-auth.
    func arguments(directory: String, tokenTTL: Int) -> [String] {
        let common = [
            "--listen", "ipc://\(directory)/auth.sock", "--events", "ipc://\(directory)/auth-events.sock",
            "--auth-token-ttl", String(tokenTTL), "--log-level", "debug",
        ]
        switch kind {
        case .writable: return common + ["--data-dir", directory + "/data", "--bcrypt-cost", "4"]
        case .fileReading: return common + ["--file", directory + "/auth.json"]
        }
    }
}

/// A backend process on `ipc://` sockets in a temporary directory, a bus client and a subscriber to its
/// events; its output goes to `<directory>/backend.log`.
final class RunningBackend: AuthBackendClient, Sendable {
    let backend: BackendUnderTest
    let directory: String
    let client: BusClient
    private let process: Process
    private let subscriber: EventSubscriber
    let eventLog = AuthEventLog()

    /// Starts `backend` with the fixture (written as a file, or created through the bus), auth on or off,
    /// and waits until it answers.
    static func start(_ backend: BackendUnderTest, enabled: Bool = true, tokenTTL: Int = 300) async throws -> RunningBackend {
        let directory = try makeTemporaryDirectory()
        if backend.kind == .fileReading {
            try ContractFixture.json(enabled: enabled).write(toFile: directory + "/auth.json", atomically: true, encoding: .utf8)
        }
        let running = try RunningBackend(backend, directory: directory, tokenTTL: tokenTTL)
        try await running.waitUntilServing()
        if backend.kind == .writable { try await running.seedFixture(enable: enabled) }
        return running
    }

    private init(_ backend: BackendUnderTest, directory: String, tokenTTL: Int) throws {
        self.backend = backend
        self.directory = directory
        process = Process()
        process.executableURL = URL(fileURLWithPath: backend.executable)
        process.arguments = backend.arguments(directory: directory, tokenTTL: tokenTTL)
        try process.runAlone(loggingTo: directory + "/backend.log")
        let logger = Logger(label: "contract-test")
        client = try BusClient(connect: "ipc://\(directory)/auth.sock", configuration: .patient, logger: logger)
        subscriber = try eventLog.subscribe(to: "ipc://\(directory)/auth-events.sock", logger: logger)
    }

    private func waitUntilServing() async throws {
        let deadline = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < deadline {
            guard process.isRunning else { throw TestFailure("\(backend.name) exited: \(log)") }
            if (try? await client.request(try Etcetera_Auth_AuthRequest.encoded { $0.permissions = .init() }, timeout: .seconds(1))) != nil { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestFailure("\(backend.name) did not answer: \(log)")
    }

    /// Creates the fixture through the bus, then enables auth if asked.
    private func seedFixture(enable: Bool) async throws {
        for role in ContractFixture.roles {
            try await succeed { $0.roleAdd.name = role.name }
            for permission in role.permissions {
                try await succeed {
                    $0.roleGrantPermission = .with {
                        $0.name = role.name
                        $0.perm = .with {
                            $0.permType = Authpb_Permission.TypeEnum(rawValue: Int(permission.type.rawValue))!
                            $0.key = Data(permission.key)
                            $0.rangeEnd = Data(permission.rangeEnd)
                        }
                    }
                }
            }
        }
        for user in ContractFixture.users {
            try await succeed {
                $0.userAdd = .with {
                    $0.name = user.name
                    if let password = user.password { $0.password = password } else { $0.options.noPassword = true }
                }
            }
            for role in user.roles { try await succeed { $0.userGrantRole = .with { $0.user = user.name; $0.role = role } } }
        }
        if enable { try await succeed { $0.authEnable = .init() } }
    }

    var log: String { (try? String(contentsOfFile: directory + "/backend.log", encoding: .utf8)) ?? "" }

    /// The current revision, from a read.
    func revision() async throws -> UInt64 { try await permissions().revision }

    /// Replaces the auth file (a file backend's edit) and makes sure its stamp moves.
    func writeFile(_ contents: String) throws {
        let path = directory + "/auth.json"
        let temporary = path + ".new"
        try contents.write(toFile: temporary, atomically: false, encoding: .utf8)
        guard rename(temporary, path) == 0 else { throw TestFailure("rename failed") }
    }

    var isRunning: Bool { process.isRunning }

    /// Stops the process with SIGTERM, as the launcher does, and removes the directory. A backend that
    /// is still running 10 s later fails the test (the contract: SIGTERM stops a backend within 10 s) and
    /// is killed.
    /// Waits by sleeping, never by blocking a thread: the tests run in parallel on the few threads
    /// Swift's concurrency runtime has, and one blocked thread delays every other test's sleeps and
    /// timeouts.
    func stop() async {
        subscriber.close()
        client.close()
        if process.isRunning { process.terminate() }
        let deadline = ContinuousClock.now + .seconds(10)
        while process.isRunning, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        #expect(!process.isRunning, "the backend was still running 10 s after SIGTERM\n\(log)")
        kill()
    }

    /// Kills the process at once if it still runs, and removes the directory: the way out of a test that
    /// failed before ``stop()`` (use it in `defer`).
    func kill() {
        subscriber.close()
        client.close()
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(atPath: directory)
    }

    static func makeTemporaryDirectory() throws -> String {
        var template = Array("/tmp/auth-contract-XXXXXX".utf8CString)
        guard let created = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw TestFailure("mkdtemp failed")
        }
        return String(cString: created)
    }
}
