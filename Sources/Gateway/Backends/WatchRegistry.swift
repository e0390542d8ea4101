import Bus
import EtceteraAPI
import Logging

/// Where watch processes announce themselves (`--watch-registry`): each announcement adds its endpoint
/// to the ``WatchBackend``, so a deployment can add watch processes (`docker-compose up --scale
/// watch=3`) without telling the gateway their addresses. Processes announce again every second, so a
/// restarted gateway learns them again within a second.
///
/// Only authenticated processes can announce: on a `tcp://` endpoint the registry is a CURVE server
/// like every bus server, admitting only the client keys of the bus keys directory (docs/bus.md); an
/// `ipc://` endpoint is private to its directory's owner. The backend holds a bounded number of
/// announced processes and forgets those gone silent, so announcements cannot exhaust the gateway.
final class WatchRegistry: Sendable {
    private let server: BusServer
    private let backend: WatchBackend
    private let logger: Logger

    init(bind endpoint: String, backend: WatchBackend, logger: Logger) throws {
        server = try BusServer(bind: endpoint, logger: logger)
        self.backend = backend
        self.logger = logger
    }

    func run() async throws {
        try await server.run { [backend, logger] request in
            var reply = Etcetera_Watch_WatchServiceReply()
            do {
                let announcement = try Etcetera_Watch_WatchProcessAnnouncement(serializedBytes: request.payload)
                try backend.add(endpoint: announcement.endpoint)
                reply.ack = Etcetera_Watch_Ack()
            } catch let full as WatchRegistryFull {
                logger.warning("refusing a watch process announcement", metadata: ["error": "\(full)"])
                reply.error.code = "watch.registry_full"
                reply.error.detail = "\(full)"
            } catch {
                logger.warning("ignoring a watch process announcement", metadata: ["error": "\(error)"])
                reply.error.code = "bus.malformed_request"
                reply.error.detail = "\(error)"
            }
            request.reply((try? reply.serializedBytes()) ?? [])
        }
    }

    func close() {
        server.close()
    }
}

/// An announcement refused because the gateway knows as many announced watch processes as it holds.
struct WatchRegistryFull: Error, CustomStringConvertible {
    let limit: Int

    var description: String { "the watch registry holds \(limit) announced watch processes already" }
}
