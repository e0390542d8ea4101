import EtceteraAPI

/// etcd's Cluster service for Etcetera's single member. Membership changes need replication, which
/// Etcetera does not have, so they answer Unimplemented.
struct ClusterHandler: Sendable {
    let identity: ClusterIdentity
    let configuration: GatewayConfiguration

    func register(in table: inout MethodTable) {
        let service = "etcdserverpb.Cluster"
        table.unary(service, "MemberList") { (request: Etcdserverpb_MemberListRequest, _, respond) in
            respond(.success(memberList(request)))
        }
        for method in ["MemberAdd", "MemberRemove", "MemberUpdate", "MemberPromote"] {
            table.notYetSupported(service, method)
        }
    }

    func memberList(_ request: Etcdserverpb_MemberListRequest) -> Etcdserverpb_MemberListResponse {
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
}
