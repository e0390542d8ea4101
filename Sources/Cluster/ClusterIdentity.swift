import EtceteraAPI

/// The single member's identity: ids derived from its name and peer URLs, so that they stay the same
/// across restarts as etcd's do, and every process that serves part of the member (the gateway, the
/// maintenance service) derives the same ids from the same flags without asking another.
public struct ClusterIdentity: Sendable, Hashable {
    public let memberID: UInt64
    public let clusterID: UInt64
    /// A single-member cluster elects itself once per start; etcd reports term 2 after its first boot.
    public let raftTerm: UInt64 = 2

    /// An encoded `header` field (number 1) holding the ids and term. Protobuf merges a message field
    /// that appears twice, so appending these bytes to an encoded etcd response completes its header
    /// without decoding the response.
    public let headerFieldSuffix: [UInt8]

    public init(name: String, peerURLs: [String]) {
        let memberSeed = name + "|" + peerURLs.joined(separator: ",")
        memberID = Self.fnv1a(memberSeed)
        clusterID = Self.fnv1a("cluster|" + memberSeed)
        // Any etcd response carries its header as field 1: encoding one that holds only the header
        // gives exactly the bytes of that field.
        var carrier = Etcdserverpb_StatusResponse()
        carrier.header.clusterID = clusterID
        carrier.header.memberID = memberID
        carrier.header.raftTerm = raftTerm
        headerFieldSuffix = (try? carrier.serializedBytes()) ?? []
    }

    /// Completes a header as etcd does: ids and term always, the revision only if the backend left it 0.
    public func fill(_ header: inout Etcdserverpb_ResponseHeader, revision: Int64 = 0) {
        header.clusterID = clusterID
        header.memberID = memberID
        header.raftTerm = raftTerm
        if header.revision == 0 { header.revision = revision }
    }

    private static func fnv1a(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return hash
    }
}
