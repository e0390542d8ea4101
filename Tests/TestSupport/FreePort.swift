import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Loopback ports for test servers that no other test can be handed while this one runs.
///
/// A port probed free and released at once (bind to port 0, close) can be handed to the next caller
/// too, or taken by any outgoing connection, before the server that should listen on it binds it: two
/// services of parallel tests then start on one port. So ports come from below the kernel's ephemeral
/// range (no outgoing connection takes one), in blocks of ``blockSize`` reserved for the whole test
/// process by an exclusive `flock` on a file per block (other test processes on the machine skip the
/// block; the kernel drops the lock when the process ends, however it ends), and each port of a block
/// is handed out once.
public enum FreePort {
    static let blockSize = 64
    /// Where the reservable ports lie: above the well-known and registered services commonly run on a
    /// developer machine, below the ephemeral range.
    static let reservable: Range<Int> = 15_000..<min(ephemeralRangeStart, 32_768)
    private static let lockDirectory = NSTemporaryDirectory() + "etcetera-test-ports"

    private struct Reservation {
        var blockStart = 0
        var next = 0
        /// Lock files of the blocks held; kept open (so locked) until the process exits.
        var lockFiles: [Int32] = []
    }

    private static let reservation = Mutex(Reservation())

    /// One port, free now and handed to no one else.
    public static func pick() -> Int {
        pick(consecutive: 1)
    }

    /// The first of `count` consecutive ports, each free now and handed to no one else (a kv bus on
    /// `tcp://HOST:PORT` also opens PORT+1).
    public static func pick(consecutive count: Int) -> Int {
        precondition((1...blockSize).contains(count))
        return reservation.withLock { reservation in
            while true {
                if reservation.next + count > reservation.blockStart + blockSize || reservation.lockFiles.isEmpty {
                    reserveBlock(&reservation)
                }
                let first = reservation.next
                reservation.next += count
                if (first..<(first + count)).allSatisfy(isBindable) { return first }
            }
        }
    }

    private static func reserveBlock(_ reservation: inout Reservation) {
        try? FileManager.default.createDirectory(atPath: lockDirectory, withIntermediateDirectories: true)
        let blocks = reservable.count / blockSize
        let offset = Int.random(in: 0..<blocks)
        for index in 0..<blocks {
            let block = (offset + index) % blocks
            let start = reservable.lowerBound + block * blockSize
            let descriptor = open("\(lockDirectory)/\(start).lock", O_CREAT | O_RDWR | O_CLOEXEC, 0o666)
            guard descriptor >= 0 else { continue }
            guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
                close(descriptor)
                continue
            }
            reservation.lockFiles.append(descriptor)
            reservation.blockStart = start
            reservation.next = start
            return
        }
        fatalError("every block of test ports in \(reservable) is held by another test process")
    }

    /// The first port of the kernel's ephemeral range (ports that outgoing connections take).
    private static var ephemeralRangeStart: Int {
        let text = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)) ?? ""
        return text.split(whereSeparator: \.isWhitespace).first.flatMap { Int($0) } ?? 32_768
    }

    /// Whether a listener could bind 127.0.0.1:`port` now, even one without `SO_REUSEADDR` (so a port
    /// with connections of an earlier test process still in TIME_WAIT is passed over).
    private static func isBindable(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = loopback(port)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    private static func loopback(_ port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    /// Whether something accepts TCP connections on 127.0.0.1:`port`.
    public static func isAccepting(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = loopback(port)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        return result == 0
    }
}
