/// What the gateway needs to know to serve etcd's API.
public struct GatewayConfiguration: Sendable {
    /// Host and port to serve gRPC on (from the first `--listen-client-urls` entry).
    public var host: String
    public var port: Int
    /// TLS on the client port (an `https://` client URL); nil serves plaintext.
    public var tls: ClientTLS?
    /// The kv service's request/reply endpoint.
    public var kvEndpoint: String
    /// The watch fan-out processes' request/reply endpoints; Watch streams are spread over them.
    public var watchEndpoints: [String] = []
    /// Where watch processes announce themselves (bound by the gateway); Watch streams are spread over
    /// the announced processes too. Lets a deployment add watch processes the gateway was not told of.
    public var watchRegistryEndpoint: String?
    /// The lease service's request/reply endpoint; without one the Lease API is not served.
    public var leaseEndpoint: String?
    /// The maintenance service's request/reply endpoint; without one the Maintenance and Cluster
    /// APIs are not served.
    public var maintenanceEndpoint: String?
    /// The auth backend's request/reply endpoint (docs/auth-plugins.md). Stored only: the gateway does
    /// not enforce auth yet.
    public var authEndpoint: String?
    /// The auth backend's event endpoint, where it publishes its revision whenever it changes.
    public var authEventsEndpoint: String?
    /// etcd's `--max-request-bytes`: larger write requests get "request is too large".
    public var maxRequestBytes: Int = 1_572_864
    /// Member name and peer URLs: the member and cluster ids in every response header derive from
    /// them (the maintenance service derives the same ids from the same flags).
    public var name: String = "default"
    public var peerURLs: [String] = ["http://localhost:2380"]
    /// Where to serve `/metrics` and `/health` besides the client port (etcd's `--listen-metrics-urls`).
    public var metricsAddresses: [(host: String, port: Int)] = []
    /// How long a backend request may take before the client gets `Unavailable`: etcd's request
    /// timeout (5 s plus two election timeouts), so a write held up by a disk stall of a few seconds
    /// still completes, as it does on etcd.
    public var requestTimeout: Duration = .seconds(7)
    /// etcd's `--max-concurrent-streams`: streams one client connection may have open (etcd 3.4's
    /// default, `math.MaxUint32`, is no limit; what a connection may buffer is bounded regardless).
    public var maxConcurrentStreams: UInt32 = .max
    /// etcd's `--grpc-keepalive-min-time`, `--grpc-keepalive-interval` and `--grpc-keepalive-timeout`.
    public var keepalive = GRPCKeepalive()
    /// How long a client connection may stay open with no call or request in progress.
    public var clientIdleTimeout: Duration = .seconds(5 * 60)
    /// etcd's `--cors`: origins whose HTTP requests get CORS headers naming them; `*` for all.
    public var corsOrigins: Set<String> = ["*"]
    /// etcd's `--host-whitelist`: host names a plaintext client port answers over HTTP; `*` for all.
    public var hostWhitelist: Set<String> = ["*"]

    public init(host: String, port: Int, kvEndpoint: String) {
        self.host = host
        self.port = port
        self.kvEndpoint = kvEndpoint
    }
}
