import Bus
import EtceteraAPI
import Logging
import Synchronization

/// Every `AuthEvent` an auth backend published since the log subscribed, in order.
public final class AuthEventLog: Sendable {
    private let received = Mutex<[Etcetera_Auth_AuthEvent]>([])

    public init() {}

    /// Subscribes to the backend's event endpoint; the subscriber feeds this log until it is closed.
    public func subscribe(to endpoint: String, logger: Logger) throws -> EventSubscriber {
        try EventSubscriber(connect: endpoint, logger: logger) { [self] payloads in
            let events = payloads.compactMap { try? Etcetera_Auth_AuthEvent(serializedBytes: $0) }
            received.withLock { $0 += events }
        }
    }

    /// The events received so far.
    public var events: [Etcetera_Auth_AuthEvent] { received.withLock { $0 } }

    /// Waits (polling) for an event after the first `skipping` ones that satisfies `predicate`; nil after `timeout`.
    public func event(
        skipping: Int = 0, timeout: Duration = .seconds(5), where predicate: (Etcetera_Auth_AuthEvent) -> Bool = { _ in true }
    ) async -> Etcetera_Auth_AuthEvent? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let found = events.dropFirst(skipping).first(where: predicate) { return found }
            try? await Task.sleep(for: .milliseconds(2))
        }
        return nil
    }
}
