#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch

/// Delivers SIGTERM and SIGINT to a handler through dispatch sources instead of killing the process.
///
/// No signal is lost, however early it comes: until the sources are in place the default disposition
/// stays (the process just dies, as it would without a handler), and the initializer returns only once
/// they are. The usual recipe, `SIG_IGN` first and a dispatch source after, drops a signal that arrives
/// between the two, and on Linux libdispatch installs its own handler only later, on its manager thread:
/// a process busy starting up, sent SIGTERM in that gap, ran on as if nothing had come. Darwin's
/// kqueue reports a signal only next to its disposition, so there `SIG_IGN` is still needed.
///
/// Services get their defaults back when spawned (see `Supervisor`). Keep the value alive as long as
/// the handler should run.
public final class TerminationSignals: @unchecked Sendable {
    private let sources: [any DispatchSourceSignal]

    /// - Parameters:
    ///   - signals: the signals to handle.
    ///   - handler: called on a dispatch queue with the signal number, once per delivery.
    public init(signals: [Int32] = [SIGTERM, SIGINT], handler: @escaping @Sendable (Int32) -> Void) {
        let queue = DispatchQueue(label: "etcetera.termination-signals")
        let registered = DispatchGroup()
        sources = signals.map { number in
            #if !os(Linux)
            signal(number, SIG_IGN)
            #endif
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { handler(number) }
            registered.enter()
            source.setRegistrationHandler { registered.leave() }
            source.resume()
            return source
        }
        registered.wait()
    }

    /// Stops handling (the signals are then ignored).
    public func cancel() {
        for source in sources { source.cancel() }
    }
}
