import Bus
import EtceteraAPI
import GRPCWire
import Logging
import Prometheus
import SwiftProtobuf

/// The gateway's connection to a request/reply service (kv, lease): sends its request envelope,
/// returns its reply, and turns transport failures and service errors into etcd's gRPC errors.
/// Every service's reply envelope carries `ServiceError` as field 1, so one backend serves them all.
final class ServiceBackend: Sendable {
    private let client: BusClient
    private let timeout: Duration
    /// Where each round trip's time goes (`etcetera_bus_request_duration_seconds`); nil: not measured.
    private let roundTrips: DurationHistogram?
    let maxRequestBytes: Int
    /// How long a call whose work grows with the store may take: a defragment, a hash, the first part
    /// of a snapshot, a physical compaction. etcd has no limit for these; an hour bounds a lost reply.
    static let longOperationTimeout: Duration = .seconds(3600)

    init(endpoint: String, timeout: Duration, maxRequestBytes: Int, logger: Logger, roundTrips: DurationHistogram? = nil) throws {
        client = try BusClient(connect: endpoint, logger: logger)
        self.timeout = timeout
        self.maxRequestBytes = maxRequestBytes
        self.roundTrips = roundTrips
    }

    /// Whether the service answers the bus's heartbeats (or replied recently).
    var isAlive: Bool { client.isPeerAlive }

    /// Every request of this backend goes through here, so every round trip is measured.
    private func send(
        _ payload: [UInt8], timeout: Duration, completion: @escaping @Sendable (Result<[UInt8], BusError>) -> Void
    ) {
        guard let roundTrips else { return client.request(payload, timeout: timeout, completion: completion) }
        let sent = ContinuousClock.now
        client.request(payload, timeout: timeout) { result in
            roundTrips.record(ContinuousClock.now - sent)
            completion(result)
        }
    }

    /// Sends a request the gateway builds itself (status probes); `completion` gets the decoded reply,
    /// or the status a client should see, on the bus thread.
    func call(_ request: Etcetera_Kv_KVRequest, completion: @escaping Responder<Etcetera_Kv_KVReply.OneOf_Reply>) {
        let payload: [UInt8]
        do {
            payload = try request.serializedBytes()
        } catch {
            return completion(.failure(GRPCStatus(code: .internalError, message: "etcetera: cannot encode kv request")))
        }
        send(payload, timeout: timeout) { result in
            completion(result.mapError(ErrorMapping.status).flatMap(Self.decode))
        }
    }

    /// Forwards an encoded etcd request as `KVRequest` field `requestField` and answers with the encoded
    /// response of `KVReply` field `replyField`, its header completed by appending `headerSuffix`, all
    /// without decoding either message (the hot path of every KV call). With `limitSize` (writes, as
    /// etcd replicates them) a request whose encoding exceeds `--max-request-bytes` is refused; the
    /// `KVRequest` envelope stands in for etcd's raft envelope. `timeout` replaces the backend's for
    /// calls whose time grows with the store (defragment, snapshots).
    func forward(
        _ request: [UInt8], requestField: Int, replyField: Int, limitSize: Bool, headerSuffix: [UInt8],
        timeout: Duration? = nil, completion: @escaping Responder<[UInt8]>
    ) {
        let payload = ProtobufWire.wrap(field: requestField, request)
        if limitSize, payload.count > maxRequestBytes { return completion(.failure(ErrorMapping.requestTooLarge)) }
        send(payload, timeout: timeout ?? self.timeout) { result in
            completion(result.mapError(ErrorMapping.status).flatMap { reply in
                guard let (field, contents) = ProtobufWire.unwrap(reply) else {
                    return .failure(GRPCStatus(code: .internalError, message: "etcetera: undecodable kv reply"))
                }
                if field == replyField { return .success(Array(contents) + headerSuffix) }
                return Self.decode(reply).flatMap { _ in .failure(ServiceBackend.mismatch) }
            })
        }
    }

    /// Sends an encoded request envelope as it is and returns the encoded reply envelope, for services
    /// whose replies carry more than the one field `forward` expects (the auth backend's revision).
    func exchange(_ payload: [UInt8]) async -> Result<[UInt8], GRPCStatus> {
        await withCheckedContinuation { continuation in
            send(payload, timeout: timeout) { result in
                continuation.resume(returning: result.mapError(ErrorMapping.status))
            }
        }
    }

    static let mismatch = GRPCStatus(code: .internalError, message: "etcetera: kv reply of the wrong kind")

    /// Completes once the service answers the given call (an empty request of field `requestField`);
    /// throws the status a client would get otherwise.
    func probe(requestField: Int, replyField: Int) async throws(GRPCStatus) {
        let result = await withCheckedContinuation { continuation in
            forward([], requestField: requestField, replyField: replyField, limitSize: false, headerSuffix: []) {
                continuation.resume(returning: $0)
            }
        }
        _ = try result.get()
    }

    /// Async form of `call(_:completion:)`.
    func call(_ request: Etcetera_Kv_KVRequest) async throws(GRPCStatus) -> Etcetera_Kv_KVReply.OneOf_Reply {
        let result = await withCheckedContinuation { continuation in
            call(request) { continuation.resume(returning: $0) }
        }
        return try result.get()
    }

    private static func decode(_ bytes: [UInt8]) -> Result<Etcetera_Kv_KVReply.OneOf_Reply, GRPCStatus> {
        let reply: Etcetera_Kv_KVReply
        do {
            reply = try Etcetera_Kv_KVReply(serializedBytes: bytes)
        } catch {
            return .failure(GRPCStatus(code: .internalError, message: "etcetera: undecodable kv reply"))
        }
        switch reply.reply {
        case .error(let error): return .failure(ErrorMapping.status(code: error.code, detail: error.detail))
        case .some(let payload): return .success(payload)
        case nil: return .failure(GRPCStatus(code: .internalError, message: "etcetera: empty kv reply"))
        }
    }

    func close() { client.close() }
}
