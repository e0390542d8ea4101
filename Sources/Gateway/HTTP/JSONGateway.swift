import EtceteraAPI
import GRPCWire
import NIOHTTP1
import SwiftProtobuf

/// etcd 3.4's HTTP/JSON gateway on the client port: `POST /v3/kv/range` and the other paths of
/// `rpc.proto`'s `google.api.http` annotations (also under `/v3beta/`, which etcd rewrites to `/v3/`).
/// Each path names a gRPC method of the `MethodTable`, and the call goes through that method's
/// handler, so auth checks, error mapping and backends are those of gRPC; only the message encoding
/// differs (`JSONMessageCodec`). docs/http-api.md lists the paths and the JSON rules.
struct JSONGateway: Sendable {
    struct Route: Sendable {
        /// The gRPC method's HTTP/2 path, such as `/etcdserverpb.KV/Range`.
        let method: String
        let streaming: Bool
        /// Nil for services Etcetera does not serve (lock, election): the method table answers those.
        let codec: JSONMessageCodec?
    }

    enum Lookup {
        case route(Route)
        /// Go's ServeMux sends a path that is not clean, and `/v3` itself, to its clean form.
        case redirect(location: String)
        /// A gateway path asked with another method than POST.
        case methodNotAllowed
        case notFound
    }

    let methods: MethodTable
    /// The largest request message a call may carry once encoded, as on the gRPC side.
    let maxMessageBytes: Int
    private let routes: [String: Route]

    init(methods: MethodTable, maxMessageBytes: Int) {
        self.methods = methods
        self.maxMessageBytes = maxMessageBytes
        var routes: [String: Route] = [:]
        for (path, service, method, codec) in Self.unaryPaths {
            routes[path] = Route(method: "/\(service)/\(method)", streaming: false, codec: codec)
        }
        for (path, service, method, codec) in Self.streamingPaths {
            routes[path] = Route(method: "/\(service)/\(method)", streaming: true, codec: codec)
        }
        self.routes = routes
    }

    /// Whether the HTTP side should hand a request for `path` to the gateway.
    static func serves(_ path: String) -> Bool {
        path == "/v3" || path.hasPrefix("/v3/") || path.hasPrefix("/v3beta/")
    }

    /// What etcd does with `path` (without its query): the `/v3beta/` rewrite, Go's ServeMux clean-up
    /// redirects, then grpc-gateway's POST-only routing.
    func lookup(_ method: HTTPMethod, path: String, query: String?) -> Lookup {
        var path = path
        if path.hasPrefix("/v3beta/") { path = "/v3/" + path.dropFirst("/v3beta/".count) }
        let clean = Self.cleanPath(path)
        if clean != path || clean == "/v3" {
            let location = clean == "/v3" ? "/v3/" : clean
            return .redirect(location: location + (query.map { "?" + $0 } ?? ""))
        }
        guard let route = routes[path] else { return .notFound }
        return method == .POST ? .route(route) : .methodNotAllowed
    }

    /// Go's `cleanPath`: `path.Clean` that keeps a trailing slash.
    private static func cleanPath(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            switch part {
            case ".": continue
            case "..": _ = parts.popLast()
            default: parts.append(part)
            }
        }
        var clean = "/" + parts.joined(separator: "/")
        if path.hasSuffix("/"), clean != "/" { clean += "/" }
        return clean
    }

    /// grpc-gateway's `HTTPStatusFromCode`.
    static func httpStatus(for code: GRPCStatus.Code) -> HTTPResponseStatus {
        switch code {
        case .ok: .ok
        case .cancelled: .requestTimeout
        case .invalidArgument, .outOfRange: .badRequest
        case .deadlineExceeded: .gatewayTimeout
        case .notFound: .notFound
        case .alreadyExists, .aborted: .conflict
        case .permissionDenied: .forbidden
        case .unauthenticated: .unauthorized
        case .resourceExhausted: .tooManyRequests
        case .failedPrecondition: .preconditionFailed
        case .unimplemented: .notImplemented
        case .unavailable: .serviceUnavailable
        default: .internalServerError
        }
    }

    private typealias Path = (path: String, service: String, method: String, codec: JSONMessageCodec?)

    private static func codec<Request, Response>(_ request: Request.Type, _ response: Response.Type) -> JSONMessageCodec
    where Request: SwiftProtobuf.Message, Response: SwiftProtobuf.Message {
        JSONMessageCodec.messages(request, response)
    }

    /// rpc.proto's annotations, in etcd 3.4. `/v3/maintenance/hash` is annotated on both Hash and
    /// HashKV; grpc-gateway takes the first registered, Hash, so HashKV has no path.
    private static let unaryPaths: [Path] = [
        ("/v3/kv/range", "etcdserverpb.KV", "Range", codec(Etcdserverpb_RangeRequest.self, Etcdserverpb_RangeResponse.self)),
        ("/v3/kv/put", "etcdserverpb.KV", "Put", codec(Etcdserverpb_PutRequest.self, Etcdserverpb_PutResponse.self)),
        ("/v3/kv/deleterange", "etcdserverpb.KV", "DeleteRange",
         codec(Etcdserverpb_DeleteRangeRequest.self, Etcdserverpb_DeleteRangeResponse.self)),
        ("/v3/kv/txn", "etcdserverpb.KV", "Txn", codec(Etcdserverpb_TxnRequest.self, Etcdserverpb_TxnResponse.self)),
        ("/v3/kv/compaction", "etcdserverpb.KV", "Compact",
         codec(Etcdserverpb_CompactionRequest.self, Etcdserverpb_CompactionResponse.self)),
        ("/v3/lease/grant", "etcdserverpb.Lease", "LeaseGrant",
         codec(Etcdserverpb_LeaseGrantRequest.self, Etcdserverpb_LeaseGrantResponse.self)),
        ("/v3/lease/revoke", "etcdserverpb.Lease", "LeaseRevoke",
         codec(Etcdserverpb_LeaseRevokeRequest.self, Etcdserverpb_LeaseRevokeResponse.self)),
        ("/v3/kv/lease/revoke", "etcdserverpb.Lease", "LeaseRevoke",
         codec(Etcdserverpb_LeaseRevokeRequest.self, Etcdserverpb_LeaseRevokeResponse.self)),
        ("/v3/lease/timetolive", "etcdserverpb.Lease", "LeaseTimeToLive",
         codec(Etcdserverpb_LeaseTimeToLiveRequest.self, Etcdserverpb_LeaseTimeToLiveResponse.self)),
        ("/v3/kv/lease/timetolive", "etcdserverpb.Lease", "LeaseTimeToLive",
         codec(Etcdserverpb_LeaseTimeToLiveRequest.self, Etcdserverpb_LeaseTimeToLiveResponse.self)),
        ("/v3/lease/leases", "etcdserverpb.Lease", "LeaseLeases",
         codec(Etcdserverpb_LeaseLeasesRequest.self, Etcdserverpb_LeaseLeasesResponse.self)),
        ("/v3/kv/lease/leases", "etcdserverpb.Lease", "LeaseLeases",
         codec(Etcdserverpb_LeaseLeasesRequest.self, Etcdserverpb_LeaseLeasesResponse.self)),
        ("/v3/cluster/member/add", "etcdserverpb.Cluster", "MemberAdd",
         codec(Etcdserverpb_MemberAddRequest.self, Etcdserverpb_MemberAddResponse.self)),
        ("/v3/cluster/member/remove", "etcdserverpb.Cluster", "MemberRemove",
         codec(Etcdserverpb_MemberRemoveRequest.self, Etcdserverpb_MemberRemoveResponse.self)),
        ("/v3/cluster/member/update", "etcdserverpb.Cluster", "MemberUpdate",
         codec(Etcdserverpb_MemberUpdateRequest.self, Etcdserverpb_MemberUpdateResponse.self)),
        ("/v3/cluster/member/list", "etcdserverpb.Cluster", "MemberList",
         codec(Etcdserverpb_MemberListRequest.self, Etcdserverpb_MemberListResponse.self)),
        ("/v3/cluster/member/promote", "etcdserverpb.Cluster", "MemberPromote",
         codec(Etcdserverpb_MemberPromoteRequest.self, Etcdserverpb_MemberPromoteResponse.self)),
        ("/v3/maintenance/alarm", "etcdserverpb.Maintenance", "Alarm",
         codec(Etcdserverpb_AlarmRequest.self, Etcdserverpb_AlarmResponse.self)),
        ("/v3/maintenance/status", "etcdserverpb.Maintenance", "Status",
         codec(Etcdserverpb_StatusRequest.self, Etcdserverpb_StatusResponse.self)),
        ("/v3/maintenance/defragment", "etcdserverpb.Maintenance", "Defragment",
         codec(Etcdserverpb_DefragmentRequest.self, Etcdserverpb_DefragmentResponse.self)),
        ("/v3/maintenance/hash", "etcdserverpb.Maintenance", "Hash",
         codec(Etcdserverpb_HashRequest.self, Etcdserverpb_HashResponse.self)),
        ("/v3/maintenance/transfer-leadership", "etcdserverpb.Maintenance", "MoveLeader",
         codec(Etcdserverpb_MoveLeaderRequest.self, Etcdserverpb_MoveLeaderResponse.self)),
        ("/v3/auth/enable", "etcdserverpb.Auth", "AuthEnable",
         codec(Etcdserverpb_AuthEnableRequest.self, Etcdserverpb_AuthEnableResponse.self)),
        ("/v3/auth/disable", "etcdserverpb.Auth", "AuthDisable",
         codec(Etcdserverpb_AuthDisableRequest.self, Etcdserverpb_AuthDisableResponse.self)),
        ("/v3/auth/authenticate", "etcdserverpb.Auth", "Authenticate",
         codec(Etcdserverpb_AuthenticateRequest.self, Etcdserverpb_AuthenticateResponse.self)),
        ("/v3/auth/user/add", "etcdserverpb.Auth", "UserAdd",
         codec(Etcdserverpb_AuthUserAddRequest.self, Etcdserverpb_AuthUserAddResponse.self)),
        ("/v3/auth/user/get", "etcdserverpb.Auth", "UserGet",
         codec(Etcdserverpb_AuthUserGetRequest.self, Etcdserverpb_AuthUserGetResponse.self)),
        ("/v3/auth/user/list", "etcdserverpb.Auth", "UserList",
         codec(Etcdserverpb_AuthUserListRequest.self, Etcdserverpb_AuthUserListResponse.self)),
        ("/v3/auth/user/delete", "etcdserverpb.Auth", "UserDelete",
         codec(Etcdserverpb_AuthUserDeleteRequest.self, Etcdserverpb_AuthUserDeleteResponse.self)),
        ("/v3/auth/user/changepw", "etcdserverpb.Auth", "UserChangePassword",
         codec(Etcdserverpb_AuthUserChangePasswordRequest.self, Etcdserverpb_AuthUserChangePasswordResponse.self)),
        ("/v3/auth/user/grant", "etcdserverpb.Auth", "UserGrantRole",
         codec(Etcdserverpb_AuthUserGrantRoleRequest.self, Etcdserverpb_AuthUserGrantRoleResponse.self)),
        ("/v3/auth/user/revoke", "etcdserverpb.Auth", "UserRevokeRole",
         codec(Etcdserverpb_AuthUserRevokeRoleRequest.self, Etcdserverpb_AuthUserRevokeRoleResponse.self)),
        ("/v3/auth/role/add", "etcdserverpb.Auth", "RoleAdd",
         codec(Etcdserverpb_AuthRoleAddRequest.self, Etcdserverpb_AuthRoleAddResponse.self)),
        ("/v3/auth/role/get", "etcdserverpb.Auth", "RoleGet",
         codec(Etcdserverpb_AuthRoleGetRequest.self, Etcdserverpb_AuthRoleGetResponse.self)),
        ("/v3/auth/role/list", "etcdserverpb.Auth", "RoleList",
         codec(Etcdserverpb_AuthRoleListRequest.self, Etcdserverpb_AuthRoleListResponse.self)),
        ("/v3/auth/role/delete", "etcdserverpb.Auth", "RoleDelete",
         codec(Etcdserverpb_AuthRoleDeleteRequest.self, Etcdserverpb_AuthRoleDeleteResponse.self)),
        ("/v3/auth/role/grant", "etcdserverpb.Auth", "RoleGrantPermission",
         codec(Etcdserverpb_AuthRoleGrantPermissionRequest.self, Etcdserverpb_AuthRoleGrantPermissionResponse.self)),
        ("/v3/auth/role/revoke", "etcdserverpb.Auth", "RoleRevokePermission",
         codec(Etcdserverpb_AuthRoleRevokePermissionRequest.self, Etcdserverpb_AuthRoleRevokePermissionResponse.self)),
        // etcd's lock and election services (v3lock.proto, v3election.proto), not served by Etcetera.
        ("/v3/lock/lock", "v3lockpb.Lock", "Lock", nil),
        ("/v3/lock/unlock", "v3lockpb.Lock", "Unlock", nil),
        ("/v3/election/campaign", "v3electionpb.Election", "Campaign", nil),
        ("/v3/election/proclaim", "v3electionpb.Election", "Proclaim", nil),
        ("/v3/election/leader", "v3electionpb.Election", "Leader", nil),
        ("/v3/election/resign", "v3electionpb.Election", "Resign", nil),
    ]

    private static let streamingPaths: [Path] = [
        ("/v3/watch", "etcdserverpb.Watch", "Watch", codec(Etcdserverpb_WatchRequest.self, Etcdserverpb_WatchResponse.self)),
        ("/v3/lease/keepalive", "etcdserverpb.Lease", "LeaseKeepAlive",
         codec(Etcdserverpb_LeaseKeepAliveRequest.self, Etcdserverpb_LeaseKeepAliveResponse.self)),
        ("/v3/maintenance/snapshot", "etcdserverpb.Maintenance", "Snapshot",
         codec(Etcdserverpb_SnapshotRequest.self, Etcdserverpb_SnapshotResponse.self)),
        ("/v3/election/observe", "v3electionpb.Election", "Observe", nil),
    ]
}
