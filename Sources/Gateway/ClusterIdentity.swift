import EtceteraAPI

/// The single member's identity: ids derived from its name and URLs, so they stay the same across
/// restarts as etcd's do, and the header every top-level response carries.
struct ClusterIdentity: Sendable {
    let memberID: UInt64
    let clusterID: UInt64
    /// A single-member cluster elects itself once per start; etcd reports term 2 after its first boot.
    let raftTerm: UInt64 = 2

    /// An encoded `header` field (number 1) holding the ids and term. Protobuf merges a message field
    /// that appears twice, so appending these bytes to an encoded etcd response completes its header
    /// without decoding the response.
    let headerFieldSuffix: [UInt8]

    init(configuration: GatewayConfiguration) {
        let memberSeed = configuration.name + "|" + configuration.peerURLs.joined(separator: ",")
        memberID = Self.fnv1a(memberSeed)
        clusterID = Self.fnv1a("cluster|" + memberSeed)
        var header = Etcdserverpb_ResponseHeader()
        header.clusterID = clusterID
        header.memberID = memberID
        header.raftTerm = raftTerm
        let encoded: [UInt8] = (try? header.serializedBytes()) ?? []
        headerFieldSuffix = [0x0A] + ProtobufWire.varint(UInt64(encoded.count)) + encoded
    }

    /// Completes a header as etcd does: ids and term always, the revision only if the backend left it 0.
    func fill(_ header: inout Etcdserverpb_ResponseHeader, revision: Int64 = 0) {
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
