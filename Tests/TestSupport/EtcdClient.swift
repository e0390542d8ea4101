import EtceteraAPI
import GRPCCore
import GRPCNIOTransportHTTP2

/// A gRPC client for etcd's API (Etcetera or real etcd), with its connections running in the
/// background for the duration of `body`.
public func withEtcdClient<Result: Sendable>(
    port: Int, _ body: @Sendable (EtcdClient) async throws -> Result
) async throws -> Result {
    try await withGRPCClient(
        transport: .http2NIOPosix(target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext)
    ) { client in
        try await body(EtcdClient(client: client))
    }
}

public struct EtcdClient: Sendable {
    public let kv: Etcdserverpb_KV.Client<HTTP2ClientTransport.Posix>
    public let maintenance: Etcdserverpb_Maintenance.Client<HTTP2ClientTransport.Posix>
    public let cluster: Etcdserverpb_Cluster.Client<HTTP2ClientTransport.Posix>
    public let auth: Etcdserverpb_Auth.Client<HTTP2ClientTransport.Posix>

    init(client: GRPCClient<HTTP2ClientTransport.Posix>) {
        kv = Etcdserverpb_KV.Client(wrapping: client)
        maintenance = Etcdserverpb_Maintenance.Client(wrapping: client)
        cluster = Etcdserverpb_Cluster.Client(wrapping: client)
        auth = Etcdserverpb_Auth.Client(wrapping: client)
    }
}
