import Cluster
import EtceteraAPI
import Maintenance
import Testing

@Suite struct ClusterTests {
    let cluster = SingleMemberCluster(name: "ref", peerURLs: ["http://127.0.0.1:23991"], clientURLs: ["http://127.0.0.1:23990"])

    @Test func identityFollowsNameAndPeerURLs() {
        let again = ClusterIdentity(name: "ref", peerURLs: ["http://127.0.0.1:23991"])
        #expect(again == cluster.identity)
        #expect(ClusterIdentity(name: "other", peerURLs: ["http://127.0.0.1:23991"]).memberID != cluster.identity.memberID)
        #expect(ClusterIdentity(name: "ref", peerURLs: ["http://127.0.0.1:1"]).memberID != cluster.identity.memberID)
    }

    @Test func headerSuffixCompletesAnEncodedResponse() throws {
        var response = Etcdserverpb_PutResponse()
        response.header.revision = 7
        let completed = try Etcdserverpb_PutResponse(serializedBytes: try response.serializedBytes() + cluster.identity.headerFieldSuffix)
        #expect(completed.header.revision == 7)
        #expect(completed.header.memberID == cluster.identity.memberID)
        #expect(completed.header.clusterID == cluster.identity.clusterID)
        #expect(completed.header.raftTerm == 2)
    }

    @Test func memberListHasTheMemberAndAHeaderWithoutRevision() {
        let list = cluster.memberList()
        #expect(list.members.count == 1)
        #expect(list.members[0].id == cluster.identity.memberID)
        #expect(list.members[0].name == "ref")
        #expect(list.members[0].peerUrls == ["http://127.0.0.1:23991"])
        #expect(list.members[0].clientUrls == ["http://127.0.0.1:23990"])
        #expect(list.header.memberID == cluster.identity.memberID)
        #expect(list.header.revision == 0)
    }

    @Test func moveLeaderToItselfOnly() throws {
        var request = Etcdserverpb_MoveLeaderRequest()
        request.targetID = cluster.identity.memberID
        _ = try cluster.moveLeader(request)
        request.targetID = 0x1234abcd
        #expect(throws: ClusterError.badLeaderTransferee) { try cluster.moveLeader(request) }
    }

    @Test func membershipChangesGetEtcdsErrors() {
        let own = cluster.identity.memberID
        var remove = Etcdserverpb_MemberRemoveRequest()
        remove.id = own
        #expect(throws: ClusterError.notEnoughStartedMembers) { try cluster.memberRemove(remove) }
        remove.id = 42
        #expect(throws: ClusterError.memberNotFound) { try cluster.memberRemove(remove) }

        var promote = Etcdserverpb_MemberPromoteRequest()
        promote.id = own
        #expect(throws: ClusterError.memberNotLearner) { try cluster.memberPromote(promote) }
        promote.id = 42
        #expect(throws: ClusterError.memberNotFound) { try cluster.memberPromote(promote) }

        var add = Etcdserverpb_MemberAddRequest()
        add.peerUrls = ["http://127.0.0.1:23991"]
        #expect(throws: ClusterError.peerURLsExist) { try cluster.memberAdd(add) }
        add.peerUrls = ["bad"]
        #expect(throws: ClusterError.badURLs) { try cluster.memberAdd(add) }
        add.peerUrls = ["http://10.0.0.2:2380"]
        #expect(throws: ClusterError.replicationUnavailable("adding a member")) { try cluster.memberAdd(add) }
    }

    @Test func updatingTheMemberToItsOwnURLsSucceeds() throws {
        var update = Etcdserverpb_MemberUpdateRequest()
        update.id = cluster.identity.memberID
        update.peerUrls = ["http://127.0.0.1:23991"]
        let response = try cluster.memberUpdate(update)
        #expect(response.members.map(\.id) == [cluster.identity.memberID])
        update.peerUrls = ["http://127.0.0.1:9"]
        #expect(throws: ClusterError.replicationUnavailable("changing a member's peer URLs")) { try cluster.memberUpdate(update) }
        update.id = 42
        #expect(throws: ClusterError.memberNotFound) { try cluster.memberUpdate(update) }
    }

    @Test func alarmTextIsEtcds() {
        var alarm = Etcdserverpb_AlarmMember()
        alarm.memberID = 17_822_618_399_489_351_662
        alarm.alarm = .nospace
        #expect(alarm.etcdText == "memberID:17822618399489351662 alarm:NOSPACE ")
        alarm.memberID = 0
        alarm.alarm = .corrupt
        #expect(alarm.etcdText == "alarm:CORRUPT ")
    }
}
