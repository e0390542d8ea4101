import Auth
import Cluster
import EtceteraAPI
import GRPCWire

/// etcd's Auth service: each call is checked by the `AuthGate` (most need the root role once auth is
/// on), forwarded to the auth backend encoded as it came, and answered with the backend's response and
/// a header holding the kv store's revision, as etcd's carries.
struct AuthHandler: Sendable {
    let gate: AuthGate
    let kv: ServiceBackend
    let identity: ClusterIdentity

    /// Each call's field number in `AuthRequest` (its reply is the next number in `AuthReply`) and what
    /// its caller needs once auth is on (Authenticate, like every call etcd puts through raft, refuses
    /// a token it cannot resolve).
    private static let calls: [(method: String, requestField: Int, requirement: @Sendable ([UInt8]) -> AuthRequirement)] = [
        ("AuthEnable", 1, { _ in .admin }),
        ("AuthDisable", 2, { _ in .admin }),
        ("Authenticate", 3, { _ in .validTokenIfAny }),
        ("UserAdd", 4, { _ in .admin }),
        ("UserGet", 5, { bytes in .adminOrUser((try? Etcdserverpb_AuthUserGetRequest(serializedBytes: bytes))?.name ?? "") }),
        ("UserList", 6, { _ in .admin }),
        ("UserDelete", 7, { _ in .admin }),
        ("UserChangePassword", 8, { _ in .admin }),
        ("UserGrantRole", 9, { _ in .admin }),
        ("UserRevokeRole", 10, { _ in .admin }),
        ("RoleAdd", 11, { _ in .admin }),
        ("RoleGet", 12, { bytes in .adminOrRole((try? Etcdserverpb_AuthRoleGetRequest(serializedBytes: bytes))?.role ?? "") }),
        ("RoleList", 13, { _ in .admin }),
        ("RoleDelete", 14, { _ in .admin }),
        ("RoleGrantPermission", 15, { _ in .admin }),
        ("RoleRevokePermission", 16, { _ in .admin }),
    ]

    func register(in table: inout MethodTable) {
        for call in Self.calls {
            table.raw("etcdserverpb.Auth", call.method) { [self] request, context, respond in
                Task {
                    if let status = await gate.check(context, call.requirement(request)) {
                        return respond(.failure(status))
                    }
                    if let refusal = refusal(call.method, request, requestField: call.requestField) {
                        return respond(.failure(refusal))
                    }
                    respond(await forward(request, requestField: call.requestField))
                }
            }
        }
    }

    /// The longest user or role name: etcd keeps each as a key of its backend, which refuses longer
    /// keys by panicking (and panics again on every restart, replaying the request).
    static let maxNameBytes = 32768

    /// What is refused before the auth backend sees it: a request over `--max-request-bytes` (etcd puts
    /// every auth call but Authenticate through its raft log, which limits the size; Authenticate checks
    /// the password first, and the password does not travel), and a user or role name too long to keep.
    private func refusal(_ method: String, _ request: [UInt8], requestField: Int) -> GRPCStatus? {
        if method != "Authenticate", ProtobufWire.wrap(field: requestField, request).count > kv.maxRequestBytes {
            return ErrorMapping.requestTooLarge
        }
        let name: String?
        switch method {
        case "UserAdd": name = (try? Etcdserverpb_AuthUserAddRequest(serializedBytes: request))?.name
        case "RoleAdd": name = (try? Etcdserverpb_AuthRoleAddRequest(serializedBytes: request))?.name
        default: name = nil
        }
        if let name, name.utf8.count > Self.maxNameBytes {
            return ErrorMapping.status(code: "auth.name_too_long", detail: "")
        }
        return nil
    }

    private func forward(_ request: [UInt8], requestField: Int) async -> Result<[UInt8], GRPCStatus> {
        let exchanged = await gate.exchange(ProtobufWire.wrap(field: requestField, request))
        let response: ArraySlice<UInt8>
        switch exchanged {
        case .failure(let status):
            return .failure(status)
        case .success(let (_, bytes)):
            guard let field = ProtobufWire.lengthDelimitedField(requestField + 1, in: bytes) else {
                // An etcd response with every field at its default encodes to nothing.
                response = []
                break
            }
            response = field
        }
        return .success(Array(response) + (await revisionHeader()) + identity.headerFieldSuffix)
    }

    /// A `header` field holding the kv store's current revision (none if the kv does not answer).
    private func revisionHeader() async -> [UInt8] {
        guard let revision = await kv.currentRevision() else { return [] }
        var carrier = Etcdserverpb_AuthEnableResponse()
        carrier.header.revision = revision
        return (try? carrier.serializedBytes()) ?? []
    }
}
