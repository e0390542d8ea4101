import Bus
import Dispatch
import EtceteraAPI
import Logging

/// A service's connection to the kv store (lease, watch and maintenance services all keep one): typed
/// requests and replies over the bus, with transport failures and kv errors folded into one
/// ``KVFailure`` so each caller handles a single error shape.
public final class KVClient: Sendable {
    private let bus: BusClient
    private let logger: Logger

    public init(endpoint: String, logger: Logger) throws {
        bus = try BusClient(connect: endpoint, logger: logger)
        self.logger = logger
    }

    /// Sends `request`; `completion` runs on `queue` with the kv's answer.
    public func request(
        _ request: Etcetera_Kv_KVRequest, timeout: Duration, on queue: DispatchQueue,
        completion: @escaping @Sendable (Result<Etcetera_Kv_KVReply.OneOf_Reply, KVFailure>) -> Void
    ) {
        let payload: [UInt8]
        do {
            payload = try request.serializedBytes()
        } catch {
            return queue.async { completion(.failure(KVFailure(code: "bus.malformed_request", detail: "\(error)"))) }
        }
        bus.request(payload, timeout: timeout) { result in
            let outcome = result.mapError(KVFailure.init(busError:)).flatMap(Self.decode)
            queue.async { completion(outcome) }
        }
    }

    /// Async form of ``request(_:timeout:on:completion:)``.
    public func request(_ request: Etcetera_Kv_KVRequest, timeout: Duration) async throws(KVFailure) -> Etcetera_Kv_KVReply.OneOf_Reply {
        let result = await withCheckedContinuation { continuation in
            self.request(request, timeout: timeout, on: .global()) { continuation.resume(returning: $0) }
        }
        return try result.get()
    }

    /// The store's status, asked again every 200 ms until the kv service answers: services that need
    /// the store's revision before they serve start with this.
    public func waitForStatus() async throws -> Etcetera_Kv_StoreStatus {
        var request = Etcetera_Kv_KVRequest()
        request.status = Etcetera_Kv_StoreStatusRequest()
        while true {
            do {
                if case .status(let status) = try await self.request(request, timeout: .seconds(2)) { return status }
            } catch {
                logger.info("waiting for the kv service", metadata: ["error": "\(error)"])
            }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    public func close() { bus.close() }

    private static func decode(_ bytes: [UInt8]) -> Result<Etcetera_Kv_KVReply.OneOf_Reply, KVFailure> {
        switch (try? Etcetera_Kv_KVReply(serializedBytes: bytes))?.reply {
        case .error(let error)?: .failure(KVFailure(code: error.code, detail: error.detail))
        case let reply?: .success(reply)
        case nil: .failure(KVFailure(code: KVFailure.malformedReply, detail: "undecodable kv reply"))
        }
    }
}

/// A kv request that failed: the kv's error code (docs/bus.md), `bus.unavailable` when the kv did not
/// answer, or `request.too_many_requests` when it turned the request away as overload. Services pass
/// the code on to the gateway unchanged.
public struct KVFailure: Error, Sendable, Hashable, CustomStringConvertible {
    public let code: String
    public let detail: String

    public init(code: String, detail: String) {
        self.code = code
        self.detail = detail
    }

    /// Whether the kv store may have applied the request although it did not say so: it did not
    /// answer (in time, or at all), or its answer could not be read. Any error it did answer with
    /// means the request was not applied.
    public var outcomeUnknown: Bool { code == Self.unavailable || code == Self.malformedReply }

    static let unavailable = "bus.unavailable"
    static let malformedReply = "bus.malformed_reply"

    /// The failure of a kv request the bus did not complete. An overloaded kv refused the request
    /// before running it, so only the other bus failures leave the outcome unknown.
    public init(busError: BusError) {
        self.init(code: busError == .overloaded ? "request.too_many_requests" : Self.unavailable, detail: "\(busError)")
    }

    public var description: String { detail.isEmpty ? code : "\(code): \(detail)" }
}
