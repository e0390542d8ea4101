import Bus

extension BusClient.Configuration {
    /// For a test client of a service whose answers are under test, not its liveness: a machine busy
    /// with other tests can put off the server's `run()` (before which it answers no heartbeat) or hold
    /// its I/O thread for seconds, and this client waits for it, 60 missed heartbeats, rather than
    /// taking it for dead. The bus's own liveness is tested in `BusTests`, with the default.
    public static var patient: Self {
        var configuration = Self()
        configuration.missedHeartbeatsBeforeDead = 60
        return configuration
    }
}
