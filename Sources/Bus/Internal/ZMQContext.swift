import CZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a socket, context, pipe or thread could not be set up; public initialisers turn it into a `BusError`.
struct SetupFailure: Error {
    let reason: String

    init(_ reason: String) { self.reason = reason }

    /// The failure described by ZeroMQ's errno for the last call.
    static func zmq(_ what: String) -> SetupFailure {
        SetupFailure("\(what): \(zmqErrorDescription(zmq_errno()))")
    }
}

func zmqErrorDescription(_ code: Int32) -> String {
    String(cString: zmq_strerror(code))
}

/// A ZeroMQ context owned by one bus object. Each bus object (client, server, publisher, subscriber) owns
/// its context, so `terminate()` returning means every socket and listener of that object is really gone
/// (ZeroMQ closes sockets asynchronously; only `zmq_ctx_term` waits for it). That is what lets a closed
/// server's `ipc://` path be bound again at once.
///
/// Unlike a socket, a ZeroMQ context may be used from any thread; `terminate()` is called by the owner
/// alone, once every socket is closed. Sendable so an event publisher can share its context with the
/// thread that serves its ZAP requests.
final class ZMQContext: @unchecked Sendable {
    private var handle: UnsafeMutableRawPointer?

    init() throws(SetupFailure) {
        guard let handle = zmq_ctx_new() else { throw SetupFailure.zmq("zmq_ctx_new") }
        zmq_ctx_set(handle, ZMQ_IO_THREADS, 1)
        zmq_ctx_set(handle, ZMQ_BLOCKY, 0)
        self.handle = handle
    }

    var pointer: UnsafeMutableRawPointer? { handle }

    /// Terminates the context; every socket created from it must have been closed.
    func terminate() {
        guard let handle else { return }
        self.handle = nil
        while zmq_ctx_term(handle) != 0 && zmq_errno() == EINTR {}
    }

    deinit { terminate() }
}
