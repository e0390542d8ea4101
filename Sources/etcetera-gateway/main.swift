import ArgumentParser
import Foundation
import Gateway
import Logging
import ServiceLifecycle
import ServiceStartup
import ServiceSupport

/// etcetera-gateway: serves etcd's client API and forwards each call to the backend services.
@main
struct GatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "etcetera-gateway", abstract: "Etcetera's etcd-compatible client gateway.")

    @Option(help: "URL to serve clients on (http:// or https://); the first entry of a comma-separated list is used.")
    var listenClientUrls: String = "http://localhost:2379"

    @Option(help: "URLs to serve /metrics and /health on besides the client port, comma-separated (etcd's --listen-metrics-urls).")
    var listenMetricsUrls: String?

    @Option(help: "Certificate (PEM) served on an https:// client URL (etcd's --cert-file).")
    var certFile: String?

    @Option(help: "Private key (PEM) of --cert-file (etcd's --key-file).")
    var keyFile: String?

    @Option(help: "CA certificates (PEM) client certificates must be signed by (etcd's --trusted-ca-file).")
    var trustedCaFile: String?

    @Flag(help: "Require verified client certificates; with auth on, a call without a token is made as the certificate's common name (etcd's --client-cert-auth).")
    var clientCertAuth = false

    @Option(help: "TLS 1.2 cipher suites to offer, comma-separated Go names, in order of preference (etcd's --cipher-suites).")
    var cipherSuites: String = ""

    @OptionGroup var member: MemberOptions

    @Option(help: "The kv service's request/reply bus endpoint.")
    var kv: String

    @Option(help: "A watch fan-out process's request/reply bus endpoint (repeat for several).")
    var watch: [String] = []

    @Option(help: "Endpoint to bind where watch processes announce themselves (etcetera-watch --announce), e.g. tcp://0.0.0.0:2381; Watch streams use them as they come.")
    var watchRegistry: String?

    @Option(help: "The lease service's request/reply bus endpoint.")
    var lease: String?

    @Option(help: "The maintenance service's request/reply bus endpoint.")
    var maintenance: String?

    @Option(help: "The auth backend's request/reply bus endpoint (not enforced yet).")
    var auth: String?

    @Option(help: "The auth backend's event endpoint (its revision, whenever it changes).")
    var authEvents: String?

    @Option(help: "Largest write request accepted, in bytes (etcd's --max-request-bytes).")
    var maxRequestBytes: Int = 1_572_864

    @Option(help: "Streams one client connection may have open (etcd's --max-concurrent-streams).")
    var maxConcurrentStreams: UInt32 = .max

    @Option(help: "Clients pinging more often are disconnected, in milliseconds (etcd's --grpc-keepalive-min-time).")
    var grpcKeepaliveMinTimeMs: Int64 = 5000

    @Option(help: "Silence before the server pings a connection, in milliseconds (etcd's --grpc-keepalive-interval).")
    var grpcKeepaliveIntervalMs: Int64 = 7_200_000

    @Option(help: "Silence after a ping before the connection is closed, in milliseconds (etcd's --grpc-keepalive-timeout).")
    var grpcKeepaliveTimeoutMs: Int64 = 20000

    @Option(help: "A client connection with no call or request in progress for this long is closed, in milliseconds (the launcher's --client-idle-timeout).")
    var clientIdleTimeoutMs: Int64 = 300_000

    @Option(help: "Origins whose HTTP requests get CORS headers, comma-separated; * for all (etcd's --cors).")
    var cors: String = "*"

    @Option(help: "Host names a plaintext client port answers over HTTP, comma-separated; * for all (etcd's --host-whitelist).")
    var hostWhitelist: String = "*"

    @Option(help: "Data directory of the member (reserved for gateway state).")
    var dataDir: String?

    @OptionGroup var service: ServiceOptions

    func run() async throws {
        guard let first = listenClientUrls.split(separator: ",").first, let (host, port) = Self.address(of: first) else {
            throw ValidationError("--listen-client-urls needs scheme://host:port, got \(listenClientUrls)")
        }
        var configuration = GatewayConfiguration(host: host, port: port, kvEndpoint: kv)
        configuration.metricsAddresses = try (listenMetricsUrls ?? "").split(separator: ",").map { url in
            guard let address = Self.address(of: url) else {
                throw ValidationError("--listen-metrics-urls needs scheme://host:port, got \(url)")
            }
            return address
        }
        if first.hasPrefix("https://") {
            guard let certFile, let keyFile else {
                throw ValidationError("TLS key/cert (--cert-file, --key-file) must be provided for client url \(first) with HTTPS scheme")
            }
            let suites = try cipherSuites.split(separator: ",").map { name in
                guard let code = GoTLSCipherSuites.codePoint(named: String(name)) else {
                    throw ValidationError("unexpected TLS cipher suite \"\(name)\"")
                }
                return code
            }
            configuration.tls = ClientTLS(
                certificateFile: certFile, keyFile: keyFile, trustedCAFile: trustedCaFile, clientCertificateAuth: clientCertAuth,
                cipherSuites: suites)
        }
        configuration.maxRequestBytes = maxRequestBytes
        configuration.maxConcurrentStreams = maxConcurrentStreams
        configuration.keepalive.minTime = .milliseconds(grpcKeepaliveMinTimeMs)
        configuration.keepalive.interval = .milliseconds(grpcKeepaliveIntervalMs)
        configuration.keepalive.timeout = .milliseconds(grpcKeepaliveTimeoutMs)
        guard clientIdleTimeoutMs > 0 else { throw ValidationError("--client-idle-timeout-ms must be positive") }
        configuration.clientIdleTimeout = .milliseconds(clientIdleTimeoutMs)
        configuration.corsOrigins = Set(cors.split(separator: ",").map(String.init))
        configuration.hostWhitelist = Set(hostWhitelist.split(separator: ",").map(String.init))
        configuration.watchEndpoints = watch
        configuration.watchRegistryEndpoint = watchRegistry
        configuration.leaseEndpoint = lease
        configuration.maintenanceEndpoint = maintenance
        configuration.authEndpoint = auth
        configuration.authEventsEndpoint = authEvents
        configuration.name = member.name
        configuration.peerURLs = member.peerURLs
        try await ServiceStartup.run("etcetera-gateway", options: service) { logger in
            [try GatewayServer(configuration: configuration, logger: logger)]
        }
    }

    /// The host and port to bind for a listen URL (`localhost` as IPv4 loopback).
    private static func address(of url: Substring) -> (host: String, port: Int)? {
        guard let parsed = URL(string: String(url)), let host = parsed.host, let port = parsed.port else { return nil }
        return (host == "localhost" ? "127.0.0.1" : host, port)
    }
}
