#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Blocking TCP checks on local addresses, used before start (is the port taken?) and for readiness.
enum TCPProbe {
    /// A wildcard listen address is probed on the loopback address of the same family.
    static func probeHost(_ host: String) -> String {
        switch host {
        case "", "0.0.0.0": "127.0.0.1"
        case "::": "::1"
        default: host
        }
    }

    /// Whether some address of `host` accepts a TCP connection on `port`.
    static func canConnect(host: String, port: Int) -> Bool {
        forEachAddress(host: probeHost(host), port: port) { info in
            let socket = openSocket(info)
            guard socket >= 0 else { return false }
            defer { close(socket) }
            var timeout = timeval(tv_sec: 1, tv_usec: 0)
            setsockopt(socket, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            return connect(socket, info.ai_addr, info.ai_addrlen) == 0
        }
    }

    /// Whether binding `host:port` fails with `EADDRINUSE` for some address of `host` (other failures,
    /// such as an IPv6 address on a host without IPv6, do not count).
    static func isInUse(host: String, port: Int) -> Bool {
        guard port != 0 else { return false }
        return forEachAddress(host: host.isEmpty ? "0.0.0.0" : host, port: port) { info in
            let socket = openSocket(info)
            guard socket >= 0 else { return false }
            defer { close(socket) }
            var one: Int32 = 1
            setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            return bind(socket, info.ai_addr, info.ai_addrlen) != 0 && errno == EADDRINUSE
        }
    }

    /// Calls `body` for each resolved address until it returns `true`.
    private static func forEachAddress(host: String, port: Int, _ body: (addrinfo) -> Bool) -> Bool {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = streamType
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &list) == 0 else { return false }
        defer { freeaddrinfo(list) }
        var cursor = list
        while let info = cursor {
            if body(info.pointee) { return true }
            cursor = info.pointee.ai_next
        }
        return false
    }

    private static func openSocket(_ info: addrinfo) -> Int32 {
        #if os(Linux)
        socket(info.ai_family, streamType | Int32(SOCK_CLOEXEC.rawValue), info.ai_protocol)
        #else
        socket(info.ai_family, streamType, info.ai_protocol)
        #endif
    }

    private static var streamType: Int32 {
        #if os(Linux)
        Int32(SOCK_STREAM.rawValue)
        #else
        SOCK_STREAM
        #endif
    }
}
