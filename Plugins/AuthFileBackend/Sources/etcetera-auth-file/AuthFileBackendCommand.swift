import ArgumentParser
import Auth
import AuthFileBackend
import AuthService
import Bus
import Foundation
import Logging
import ServiceLifecycle
import ServiceSupport

/// etcetera-auth-file: a read-only auth backend whose users, roles and permissions come from a JSON file
/// (docs/auth-plugins.md, "The file backend"). Changes over the bus are refused; edits of the file are
/// taken in within about a second.
@main
struct AuthFileBackendCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "etcetera-auth-file", abstract: "Etcetera's read-only auth backend over a JSON file.")

    @Option(help: "The auth file (JSON; docs/auth-plugins.md).")
    var file: String

    @Option(help: "Request/reply bus endpoint to bind for gateways, e.g. ipc:///var/lib/etcetera/bus/auth.sock.")
    var listen: String

    @Option(help: "Event endpoint to bind; the auth revision is published there when the file changes, and every second.")
    var events: String

    @Option(help: "Seconds an unused simple token stays valid (etcd's --auth-token-ttl; 0 means 300).")
    var authTokenTtl: UInt64 = 300

    @Option(help: "debug, info, warn or error.")
    var logLevel: String = "info"

    @Option(help: "Accepted for the standard backend command line and ignored: the file holds the state.")
    var dataDir: String?

    @Option(help: "Accepted for the standard backend command line and ignored: passwords are never hashed here.")
    var bcryptCost: UInt64?

    @Option(help: "Directory of the bus's CURVE keys (etcetera bus-keys DIR); encrypts the tcp:// bus endpoints.")
    var busCurveKeys: String?

    @Flag(help: "Accept tcp:// bus endpoints without --bus-curve-keys: plaintext and unauthenticated (warns at every start).")
    var busInsecure = false

    func run() async throws {
        let logger = ServiceLogging.bootstrap(label: "etcetera-auth-file", level: logLevel)
        try BusTransportSecurity.useForThisProcess(curveKeysDirectory: busCurveKeys, insecure: busInsecure, logger: logger)
        var configuration = AuthServer.Configuration(listenEndpoint: listen, eventsEndpoint: events)
        configuration.tokenTTL = .seconds(Int64(clamping: authTokenTtl))
        let state: FileAuthState
        do {
            state = try FileAuthState(
                path: file, tokenProvider: SimpleTokenProvider(configuration: configuration.tokenProviderConfiguration), logger: logger)
        } catch {
            FileHandle.standardError.write(Data("etcetera-auth-file: \(file): \(error)\n".utf8))
            throw ExitCode(1)
        }
        let server = try AuthServer(configuration: configuration, readOnlyState: state, source: file, logger: logger)
        let group = ServiceGroup(services: [MemoryReclaimer(), server], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
    }
}
