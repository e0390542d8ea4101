import EtceteraAPI
import GRPCCore

/// etcd's Cluster service for Etcetera's single member. Membership changes need replication, which
/// Etcetera does not have, so they answer Unimplemented.
struct ClusterHandler: Etcdserverpb_Cluster.SimpleServiceProtocol {
    let identity: ClusterIdentity
    let configuration: GatewayConfiguration

    func memberList(request: Etcdserverpb_MemberListRequest, context: ServerContext) async throws -> Etcdserverpb_MemberListResponse {
        var member = Etcdserverpb_Member()
        member.id = identity.memberID
        member.name = configuration.name
        member.peerUrls = configuration.peerURLs
        member.clientUrls = configuration.advertiseClientURLs
        var response = Etcdserverpb_MemberListResponse()
        identity.fill(&response.header)
        response.members = [member]
        return response
    }

    func memberAdd(request: Etcdserverpb_MemberAddRequest, context: ServerContext) async throws -> Etcdserverpb_MemberAddResponse {
        throw MaintenanceHandler.notYet("MemberAdd")
    }

    func memberRemove(request: Etcdserverpb_MemberRemoveRequest, context: ServerContext) async throws -> Etcdserverpb_MemberRemoveResponse {
        throw MaintenanceHandler.notYet("MemberRemove")
    }

    func memberUpdate(request: Etcdserverpb_MemberUpdateRequest, context: ServerContext) async throws -> Etcdserverpb_MemberUpdateResponse {
        throw MaintenanceHandler.notYet("MemberUpdate")
    }

    func memberPromote(request: Etcdserverpb_MemberPromoteRequest, context: ServerContext) async throws -> Etcdserverpb_MemberPromoteResponse {
        throw MaintenanceHandler.notYet("MemberPromote")
    }
}
