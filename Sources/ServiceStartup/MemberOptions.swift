import ArgumentParser
import Cluster

/// The member a service serves part of, named by etcd's flags, as `@OptionGroup var member:
/// MemberOptions` in the services that put its ids in what they answer or record: each derives the
/// same ids from the same flags (``ClusterIdentity``), so the launcher passes the flags alike to each.
public struct MemberOptions: ParsableArguments {
    @Option(help: "Member name, as etcd's --name (the member id derives from it and the peer URLs).")
    public var name: String = "default"

    @Option(help: "Peer URLs of the member, comma-separated (etcd's --initial-advertise-peer-urls).")
    public var peerUrls: String = "http://localhost:2380"

    public init() {}

    public var peerURLs: [String] {
        peerUrls.split(separator: ",").map(String.init)
    }

    public var identity: ClusterIdentity {
        ClusterIdentity(name: name, peerURLs: peerURLs)
    }
}
