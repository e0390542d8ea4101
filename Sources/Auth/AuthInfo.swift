/// Who a request comes from: the user its token names and the auth revision the token stands for
/// (etcd's `auth.AuthInfo`).
public struct AuthInfo: Sendable, Hashable, CustomStringConvertible {
    public let user: String
    public let revision: UInt64

    public init(user: String, revision: UInt64) {
        self.user = user
        self.revision = revision
    }

    public var description: String { "AuthInfo(\(user.debugDescription), revision \(revision))" }
}
