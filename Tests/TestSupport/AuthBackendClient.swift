import Bus
import EtceteraAPI
import Testing

/// The auth bus contract's requests and events (docs/auth-plugins.md) as test helpers, for any test harness
/// connected to an auth backend (the in-process `AuthServer`, a backend process).
public protocol AuthBackendClient {
    var client: BusClient { get }
    /// The backend's events.
    var eventLog: AuthEventLog { get }
}

extension AuthBackendClient {
    /// The events received so far.
    public var events: [Etcetera_Auth_AuthEvent] { eventLog.events }

    /// Waits for an event after the first `skipping` that satisfies `predicate`; nil after `timeout`.
    public func event(
        skipping: Int = 0, timeout: Duration = .seconds(5), where predicate: (Etcetera_Auth_AuthEvent) -> Bool = { _ in true }
    ) async -> Etcetera_Auth_AuthEvent? {
        await eventLog.event(skipping: skipping, timeout: timeout, where: predicate)
    }

    /// Sends one request and decodes the reply.
    public func request(_ body: (inout Etcetera_Auth_AuthRequest) -> Void) async throws -> Etcetera_Auth_AuthReply {
        try await send(try Etcetera_Auth_AuthRequest.encoded(body))
    }

    /// Sends a payload as it is (the tests of malformed requests) and decodes the reply.
    public func send(_ payload: [UInt8]) async throws -> Etcetera_Auth_AuthReply {
        try Etcetera_Auth_AuthReply(serializedBytes: try await client.request(payload, timeout: .seconds(10)))
    }

    /// Sends a request that must succeed, and returns its reply.
    @discardableResult
    public func succeed(
        _ body: (inout Etcetera_Auth_AuthRequest) -> Void, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> Etcetera_Auth_AuthReply {
        let reply = try await request(body)
        if case .error(let error) = reply.reply { Issue.record("refused: \(error.code) \(error.detail)", sourceLocation: sourceLocation) }
        return reply
    }

    /// The error code a request gets ("" when it succeeds).
    public func errorCode(_ body: (inout Etcetera_Auth_AuthRequest) -> Void) async throws -> String {
        guard case .error(let error) = try await request(body).reply else { return "" }
        return error.code
    }

    public func authenticate(_ name: String, _ password: String) async throws -> Etcetera_Auth_AuthReply {
        try await request { $0.authenticate = .with { $0.name = name; $0.password = password } }
    }

    /// A token for the user, or a recorded issue and "".
    public func token(_ name: String, _ password: String, sourceLocation: SourceLocation = #_sourceLocation) async throws -> String {
        let reply = try await authenticate(name, password)
        guard case .authenticate(let response) = reply.reply else {
            Issue.record("authenticate \(name): \(reply)", sourceLocation: sourceLocation)
            return ""
        }
        return response.token
    }

    public func resolve(_ token: String) async throws -> Etcetera_Auth_AuthReply {
        try await request { $0.resolveToken.token = token }
    }

    public func permissions() async throws -> Etcetera_Auth_PermissionSnapshot {
        let reply = try await request { $0.permissions = .init() }
        guard case .permissions(let snapshot) = reply.reply else { throw TestFailure("permissions: \(reply)") }
        return snapshot
    }
}

extension Etcetera_Auth_AuthRequest {
    /// The encoded request `body` builds.
    public static func encoded(_ body: (inout Etcetera_Auth_AuthRequest) -> Void) throws -> [UInt8] {
        var request = Etcetera_Auth_AuthRequest()
        body(&request)
        return try request.serializedBytes()
    }
}
