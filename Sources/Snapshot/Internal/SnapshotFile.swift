#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An open file descriptor, closed with the last reference. Errors carry the path and `strerror`.
final class SnapshotFile {
    let path: String
    private let descriptor: Int32

    private init(path: String, descriptor: Int32) {
        self.path = path
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }

    static func openForReading(_ path: String) throws(SnapshotError) -> SnapshotFile {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .unreadable("\(path): \(lastError())") }
        return SnapshotFile(path: path, descriptor: descriptor)
    }

    /// Creates `path`, which must not exist yet, readable by its owner only.
    static func create(_ path: String) throws(SnapshotError) -> SnapshotFile {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw .writeFailed("\(path): \(lastError())") }
        return SnapshotFile(path: path, descriptor: descriptor)
    }

    func size() throws(SnapshotError) -> UInt64 {
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw .unreadable("\(path): \(Self.lastError())") }
        return UInt64(status.st_size)
    }

    /// Exactly `count` bytes from `offset`; fewer only if the file ends first.
    func read(at offset: UInt64, count: Int) throws(SnapshotError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let got = bytes.withUnsafeMutableBytes { buffer in
                pread(descriptor, buffer.baseAddress! + filled, count - filled, off_t(offset) + off_t(filled))
            }
            if got < 0, errno == EINTR { continue }
            guard got >= 0 else { throw .unreadable("\(path): \(Self.lastError())") }
            if got == 0 { break }
            filled += got
        }
        bytes.removeLast(count - filled)
        return bytes
    }

    func writeAll(_ bytes: [UInt8]) throws(SnapshotError) {
        var written = 0
        while written < bytes.count {
            let put = bytes.withUnsafeBytes { buffer in
                write(descriptor, buffer.baseAddress! + written, bytes.count - written)
            }
            if put < 0, errno == EINTR { continue }
            guard put > 0 else { throw .writeFailed("\(path): \(Self.lastError())") }
            written += put
        }
    }

    func sync() throws(SnapshotError) {
        guard fsync(descriptor) == 0 else { throw .writeFailed("\(path): \(Self.lastError())") }
    }

    static func lastError() -> String {
        String(cString: strerror(errno))
    }
}
