import Auth

extension AuthStore: AuthState {
    public func refresh(now: ContinuousClock.Instant) {
        removeExpiredTokens(now: now)
    }
}
