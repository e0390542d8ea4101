/// The permission decision: whether a caller may make a call, from whether auth is on and every user's
/// merged permissions at one auth revision. The gateway decides every call with it, and the tests
/// exercise it directly, so the rule exists once. The checks and their order follow etcd 3.4's
/// `auth/store.go`; which call needs what is ``AuthRequirement``'s business.
public struct AuthPolicy: Sendable {
    /// The answer to one call.
    public enum Decision: Sendable, Hashable {
        case allowed
        /// Refused with etcd's error (the gateway maps it to etcd's status).
        case refused(AuthError)
    }

    public let isEnabled: Bool
    public let table: PermissionTable

    public init(isEnabled: Bool, table: PermissionTable) {
        self.isEnabled = isEnabled
        self.table = table
    }

    /// Decides `requirement` for `caller`: the user and auth revision its token or client certificate
    /// stands for, nil when it sent neither. A token that does not resolve never gets here (its error is
    /// the answer, even while auth is off, as in etcd).
    ///
    /// While auth is off every call passes. Otherwise a call without a caller passes only if it needs no
    /// credentials (`auth.user_empty`). Key checks then refuse a token older than the permissions
    /// (`auth.old_revision`) before looking at them, and a user not in the table holds nothing
    /// (`auth.permission_denied`); admin checks look at no revision, and a user that is gone is
    /// `auth.user_not_found`.
    public func decide(_ requirement: AuthRequirement, for caller: AuthInfo?) -> Decision {
        guard isEnabled else { return .allowed }
        guard let caller, !caller.user.isEmpty else {
            return requirement == .validTokenIfAny ? .allowed : .refused(.userEmpty)
        }
        switch requirement {
        case .validTokenIfAny, .authenticated:
            return .allowed
        case .keys(let permissions):
            guard caller.revision != 0 else { return .refused(.userEmpty) }
            guard caller.revision >= table.revision else { return .refused(.oldRevision) }
            let permitted = permissions.allSatisfy { table.isPermitted(user: caller.user, key: $0.key, rangeEnd: $0.rangeEnd, $0.type) }
            return permitted ? .allowed : .refused(.permissionDenied)
        case .admin:
            return admin(caller.user)
        case .adminOrUser(let name):
            return caller.user == name ? .allowed : admin(caller.user)
        case .adminOrRole(let role):
            return table.user(caller.user, holds: role) ? .allowed : admin(caller.user)
        }
    }

    private func admin(_ user: String) -> Decision {
        guard table.contains(user: user) else { return .refused(.userNotFound) }
        return table.isAdmin(user) ? .allowed : .refused(.permissionDenied)
    }
}
