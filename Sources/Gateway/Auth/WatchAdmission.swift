import Auth
import EtceteraAPI
import GRPCWire

/// Decides the watch creates of one client stream with auth on, as etcd 3.4 does: READ on the watched
/// range, for the token the stream was opened with. A refused create is answered on the stream itself
/// (created and canceled, watch id -1, the reason as grpc-go prints the status) and the stream stays
/// open for other watches. A watch once created is not checked again, as in etcd 3.4: revoking a
/// permission later does not end it.
struct WatchAdmission: Sendable {
    let gate: AuthGate
    let kv: ServiceBackend
    let context: CallContext
    let headerSuffix: [UInt8]

    /// Whether creates need a check at all (auth not known to be off).
    var isNeeded: Bool { !gate.isKnownDisabled }

    /// nil when the watch may be created; otherwise the encoded response that refuses it.
    ///
    /// etcd checks an open-ended watch (`range_end` "\0") only on its first key, so a user allowed one
    /// key could watch every key after it; Etcetera checks the whole range, as for a Range.
    func refusal(of create: Etcdserverpb_WatchCreateRequest) async -> [UInt8]? {
        let key = create.key.isEmpty ? [0] : Array(create.key)
        guard let status = await gate.check(context, .keys([Permission(.read, key: key, rangeEnd: Array(create.rangeEnd))])) else { return nil }
        var response = Etcdserverpb_WatchResponse()
        response.watchID = -1
        response.created = true
        response.canceled = true
        response.cancelReason = Self.cancelStatus(status).goErrorText
        if let revision = await kv.currentRevision() { response.header.revision = revision }
        return ((try? response.serializedBytes()) ?? []) + headerSuffix
    }

    /// etcd names a bad token, an old auth revision and a missing user; anything else reads as
    /// permission denied.
    private static func cancelStatus(_ status: GRPCStatus) -> GRPCStatus {
        switch status.code {
        case .unauthenticated, .invalidArgument: status
        default: ErrorMapping.status(code: "auth.permission_denied", detail: "")
        }
    }
}
