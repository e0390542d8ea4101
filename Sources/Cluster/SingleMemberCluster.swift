import EtceteraAPI
import Foundation

/// etcd's Cluster service and MoveLeader for a cluster of one member, answered as etcd answers them on
/// a single member. Etcetera has no replication, so a change that would need a second member answers
/// with etcd's error where etcd has one for the case, and otherwise with
/// ``ClusterError/replicationUnavailable``.
public struct SingleMemberCluster: Sendable {
    public let identity: ClusterIdentity
    public let name: String
    public let peerURLs: [String]
    public let clientURLs: [String]

    public init(name: String, peerURLs: [String], clientURLs: [String]) {
        identity = ClusterIdentity(name: name, peerURLs: peerURLs)
        self.name = name
        self.peerURLs = peerURLs
        self.clientURLs = clientURLs
    }

    /// The member as MemberList reports it.
    public var member: Etcdserverpb_Member {
        var member = Etcdserverpb_Member()
        member.id = identity.memberID
        member.name = name
        member.peerUrls = peerURLs
        member.clientUrls = clientURLs
        return member
    }

    /// etcd's member list response: the header carries no revision (etcd's does not).
    public func memberList() -> Etcdserverpb_MemberListResponse {
        var response = Etcdserverpb_MemberListResponse()
        identity.fill(&response.header)
        response.members = [member]
        return response
    }

    /// Transferring leadership to the member itself succeeds at once; any other target is not a member.
    public func moveLeader(_ request: Etcdserverpb_MoveLeaderRequest) throws(ClusterError) -> Etcdserverpb_MoveLeaderResponse {
        guard request.targetID == identity.memberID else { throw .badLeaderTransferee }
        return Etcdserverpb_MoveLeaderResponse()
    }

    /// Adding a member needs replication. etcd's checks that come before it are kept, so a request
    /// etcd would refuse is refused with etcd's error.
    public func memberAdd(_ request: Etcdserverpb_MemberAddRequest) throws(ClusterError) -> Etcdserverpb_MemberAddResponse {
        guard !request.peerUrls.isEmpty, request.peerUrls.allSatisfy(Self.isValidURL) else { throw .badURLs }
        if request.peerUrls.contains(where: peerURLs.contains) { throw .peerURLsExist }
        throw .replicationUnavailable("adding a member")
    }

    /// Removing the only member would leave no started member, which etcd refuses.
    public func memberRemove(_ request: Etcdserverpb_MemberRemoveRequest) throws(ClusterError) -> Etcdserverpb_MemberRemoveResponse {
        guard request.id == identity.memberID else { throw .memberNotFound }
        throw .notEnoughStartedMembers
    }

    /// Updating the member to the peer URLs it has succeeds, as in etcd. Other peer URLs would change
    /// the member's identity, which comes from `--initial-advertise-peer-urls`.
    public func memberUpdate(_ request: Etcdserverpb_MemberUpdateRequest) throws(ClusterError) -> Etcdserverpb_MemberUpdateResponse {
        guard request.id == identity.memberID else { throw .memberNotFound }
        guard request.peerUrls.allSatisfy(Self.isValidURL) else { throw .badURLs }
        guard request.peerUrls == peerURLs else { throw .replicationUnavailable("changing a member's peer URLs") }
        var response = Etcdserverpb_MemberUpdateResponse()
        identity.fill(&response.header)
        response.members = [member]
        return response
    }

    /// The only member is a voter, and etcd promotes learners only.
    public func memberPromote(_ request: Etcdserverpb_MemberPromoteRequest) throws(ClusterError) -> Etcdserverpb_MemberPromoteResponse {
        guard request.id == identity.memberID else { throw .memberNotFound }
        throw .memberNotLearner
    }

    /// etcd accepts http, https, unix and unixs URLs with a host.
    private static func isValidURL(_ text: String) -> Bool {
        guard let url = URL(string: text), let scheme = url.scheme, let host = url.host, !host.isEmpty else { return false }
        return ["http", "https", "unix", "unixs"].contains(scheme)
    }
}

/// Why a Cluster or MoveLeader call was refused. `code` travels on the bus (docs/bus.md); the gateway
/// maps it to etcd's status.
public enum ClusterError: Error, Sendable, Hashable {
    case badLeaderTransferee
    case memberNotFound
    case notEnoughStartedMembers
    case memberNotLearner
    case peerURLsExist
    case badURLs
    /// The change needs a second member, which needs replication; `operation` says what was asked.
    case replicationUnavailable(String)

    public var code: String {
        switch self {
        case .badLeaderTransferee: "cluster.bad_leader_transferee"
        case .memberNotFound: "cluster.member_not_found"
        case .notEnoughStartedMembers: "cluster.not_enough_started_members"
        case .memberNotLearner: "cluster.member_not_learner"
        case .peerURLsExist: "cluster.peer_urls_exist"
        case .badURLs: "cluster.bad_urls"
        case .replicationUnavailable: "cluster.replication_unavailable"
        }
    }

    public var detail: String {
        if case .replicationUnavailable(let operation) = self { return operation }
        return ""
    }
}
