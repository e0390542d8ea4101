import Auth

extension EtcdConfiguration {
    /// Checks `--auth-token` as etcd does when it starts: the options, the key files and the keys. A value
    /// etcd refuses stops the launch with etcd's error (etcd exits with status 1 too); returns the warnings
    /// etcd prints for a usable value (unknown JWT options).
    func checkAuthToken() throws(LauncherError) -> [String] {
        do {
            let options = try AuthTokenOptions.parse(authToken)
            if case .jwt(let jwt) = options.kind {
                _ = try JWTKeys(jwt)
            }
            return options.unknownOptions.isEmpty ? [] : ["unknown JWT options: \(options.unknownOptions)"]
        } catch {
            throw LauncherError(code: .invalidAuthToken, message: "\(error)")
        }
    }
}
