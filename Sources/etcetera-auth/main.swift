import ArgumentParser
import Auth
import AuthService
import Foundation
import Logging
import ServiceLifecycle
import ServiceStartup
import ServiceSupport
import Storage

/// etcetera-auth: the default auth backend. Keeps users, roles and permissions in its own LevelDB
/// database and serves the auth bus contract (docs/auth-plugins.md).
@main
struct AuthServiceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "etcetera-auth", abstract: "Etcetera's auth service.")

    @Option(help: "Directory of the auth database (created if missing).")
    var dataDir: String

    @Option(help: "Request/reply bus endpoint to bind for gateways, e.g. ipc:///var/lib/etcetera/bus/auth.sock.")
    var listen: String

    @Option(help: "Event endpoint to bind; the auth revision is published there whenever it changes.")
    var events: String

    @Option(help: "etcd's --auth-token: simple, or jwt,sign-method=METHOD,priv-key=PATH,pub-key=PATH,ttl=DURATION.")
    var authToken: String = "simple"

    @Option(help: "Seconds an unused simple token stays valid (etcd's --auth-token-ttl; 0 means 300).")
    var authTokenTtl: UInt64 = 300

    @Option(help: "bcrypt cost of password hashes (etcd's --bcrypt-cost; outside 4...31 means 10).")
    var bcryptCost: UInt64 = 10

    @OptionGroup var service: ServiceOptions

    func run() async throws {
        try await ServiceStartup.run("etcetera-auth", options: service) { logger in
            try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
            var configuration = AuthServer.Configuration(listenEndpoint: listen, eventsEndpoint: events)
            configuration.tokenTTL = .seconds(Int64(clamping: authTokenTtl))
            do {
                configuration.tokens = try await Self.tokens(authToken, logger: logger)
            } catch {
                logger.critical("\(error)")
                throw ExitCode.failure
            }
            configuration.bcryptCost = Int(clamping: bcryptCost)
            return [try AuthServer(configuration: configuration, storage: try LevelDBStorage(path: dataDir), logger: logger)]
        }
    }

    /// The tokens `--auth-token` asks for, its key files read and parsed as etcd does.
    private static func tokens(_ text: String, logger: Logger) async throws(AuthTokenOptionsError) -> AuthServer.Tokens {
        let options = try AuthTokenOptions.parse(text)
        if !options.unknownOptions.isEmpty {
            logger.warning("unknown JWT options", metadata: ["keys": "\(options.unknownOptions)"])
        }
        guard case .jwt(let jwt) = options.kind else { return .simple }
        return .jwt(try await JWTKeys(jwt).codec(), ttl: jwt.ttl)
    }
}
