/// An error from the bus.
///
/// Opaque on purpose (a struct over a private enum, like grpc-swift-2's `RPCError.Code`): new kinds can be
/// added without breaking callers. Compare with the static members (`error == .unavailable`); equality and
/// hashing look at the kind only, never at the detail text.
public struct BusError: Error, Sendable, Hashable, CustomStringConvertible {
    private enum Kind: Hashable, Sendable {
        case unavailable
        case deadlineExceeded
        case closed
        case cancelled
        case malformedMessage
        case bindFailed
        case connectFailed
        case curveKeysUnusable
        case plaintextRefused
        case overloaded
    }

    private let kind: Kind
    private let detail: String

    private init(_ kind: Kind, _ detail: String = "") {
        self.kind = kind
        self.detail = detail
    }

    /// The peer is down, unreachable or not connected yet, or it went away with the request in flight.
    /// Nothing is known about whether the request was executed.
    public static let unavailable = BusError(.unavailable)

    /// No final reply arrived before the request's deadline.
    public static let deadlineExceeded = BusError(.deadlineExceeded)

    /// The server did not take the request: its queue for that kind of work was full. The request did
    /// not run; the caller may retry later. Answered at once, so a flood of one kind of request is
    /// turned away quickly while other requests are still served.
    public static let overloaded = BusError(.overloaded)

    /// The local client or server was closed.
    public static let closed = BusError(.closed)

    /// The task waiting for the reply was cancelled; the request may still run on the server.
    public static let cancelled = BusError(.cancelled)

    /// A peer sent frames that do not follow the bus protocol. Receivers drop such messages and log them;
    /// this error is only used internally and in logs.
    public static let malformedMessage = BusError(.malformedMessage)

    /// A server or publisher could not bind its endpoint (in use, bad address, no permission...).
    public static func bindFailed(_ endpoint: String, _ reason: String) -> BusError {
        BusError(.bindFailed, "\(endpoint): \(reason)")
    }

    /// A client or subscriber could not connect to its endpoint (malformed address, unknown transport...).
    /// An absent peer is not an error at connect time: ZeroMQ keeps retrying in the background.
    public static func connectFailed(_ endpoint: String, _ reason: String) -> BusError {
        BusError(.connectFailed, "\(endpoint): \(reason)")
    }

    /// CURVE keys that cannot be read, written or made, or that are not 40-character Z85 keys; or a
    /// libzmq built without CURVE.
    public static func curveKeysUnusable(_ reason: String) -> BusError {
        BusError(.curveKeysUnusable, reason)
    }

    /// A `tcp://` endpoint without CURVE keys in a process that did not accept a plaintext bus
    /// (``BusTransportSecurity``); the detail names `--bus-curve-keys` and `--bus-insecure`.
    public static func plaintextRefused(_ endpoint: String, _ reason: String) -> BusError {
        BusError(.plaintextRefused, "\(endpoint): \(reason)")
    }

    static func unavailable(_ detail: String) -> BusError { BusError(.unavailable, detail) }
    static func closed(_ detail: String) -> BusError { BusError(.closed, detail) }

    public var description: String {
        let name = switch kind {
        case .unavailable: "unavailable"
        case .deadlineExceeded: "deadline exceeded"
        case .closed: "closed"
        case .cancelled: "cancelled"
        case .malformedMessage: "malformed message"
        case .bindFailed: "bind failed"
        case .connectFailed: "connect failed"
        case .curveKeysUnusable: "CURVE keys unusable"
        case .plaintextRefused: "plaintext bus refused"
        case .overloaded: "overloaded"
        }
        return detail.isEmpty ? name : "\(name): \(detail)"
    }

    public static func == (lhs: BusError, rhs: BusError) -> Bool { lhs.kind == rhs.kind }
    public func hash(into hasher: inout Hasher) { hasher.combine(kind) }
}
