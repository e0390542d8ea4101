import ArgumentParser
import Auth
import AuthFileBackend
import AuthService
import Foundation
import Logging
import ServiceLifecycle
import ServiceStartup
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

    @OptionGroup var service: ServiceOptions

    @Option(help: "Accepted for the standard backend command line and ignored: the file holds the state.")
    var dataDir: String?

    @Option(help: "Accepted for the standard backend command line and ignored: passwords are never hashed here.")
    var bcryptCost: UInt64?

    func run() async throws {
        var configuration = AuthServer.Configuration(listenEndpoint: listen, eventsEndpoint: events)
        configuration.tokenTTL = .seconds(Int64(clamping: authTokenTtl))
        try await ServiceStartup.run("etcetera-auth-file", options: service) { logger in
            let state: FileAuthState
            do {
                state = try FileAuthState(
                    path: file, tokenProvider: SimpleTokenProvider(configuration: configuration.tokenProviderConfiguration), logger: logger)
            } catch {
                FileHandle.standardError.write(Data("etcetera-auth-file: \(file): \(error)\n".utf8))
                throw ExitCode(1)
            }
            return [try AuthServer(configuration: configuration, readOnlyState: state, source: file, logger: logger)]
        }
    }
}
