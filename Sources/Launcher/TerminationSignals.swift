#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch

/// Delivers SIGTERM and SIGINT to a handler through dispatch sources instead of killing the process.
///
/// The default disposition is replaced by `SIG_IGN` first, as dispatch signal sources require; services
/// get their defaults back when spawned (see ``Supervisor``). Keep the value alive as long as the
/// handler should run.
public final class TerminationSignals: @unchecked Sendable {
    private let sources: [any DispatchSourceSignal]

    /// - Parameters:
    ///   - signals: the signals to handle.
    ///   - handler: called on a dispatch queue with the signal number, once per delivery.
    public init(signals: [Int32] = [SIGTERM, SIGINT], handler: @escaping @Sendable (Int32) -> Void) {
        let queue = DispatchQueue(label: "etcetera.termination-signals")
        sources = signals.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { handler(number) }
            source.resume()
            return source
        }
    }

    /// Stops handling (the signals stay ignored).
    public func cancel() {
        for source in sources { source.cancel() }
    }
}
