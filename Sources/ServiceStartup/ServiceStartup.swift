import Bus
import Logging
import ServiceLifecycle
import ServiceSupport

/// The one boot sequence of every service executable; each `main` only adds its own pieces.
///
/// In order: logging on standard error at `--log-level`; SIGTERM/SIGINT handling (``ShutdownOnSignal``)
/// before anything slow, so a signal during start-up is obeyed; the bus's CURVE keys; the service's own
/// pieces (`makeServices`, which may open stores and bind endpoints); then a `ServiceGroup` of them with a
/// ``MemoryReclaimer``, shut down gracefully on the first signal, in reverse order.
public enum ServiceStartup {
    /// Boots the service named `name` (its log label, e.g. `etcetera-kv`) and runs it until it stops.
    /// - Parameter makeServices: builds what the process runs, given its logger; errors it throws end
    ///   the process as a failed start.
    public static func run(
        _ name: String, options: ServiceOptions, makeServices: (Logger) async throws -> [any Service]
    ) async throws {
        let logger = ServiceLogging.bootstrap(label: name, level: options.logLevel)
        let shutdown = ShutdownOnSignal(logger: logger)
        try BusTransportSecurity.useForThisProcess(
            curveKeysDirectory: options.busCurveKeys, insecure: options.busInsecure, logger: logger)
        let services: [any Service] = [MemoryReclaimer()] + (try await makeServices(logger))
        let group = ServiceGroup(services: services, logger: logger)
        shutdown.attach(group)
        defer { withExtendedLifetime(shutdown) {} }
        try await group.run()
    }
}
