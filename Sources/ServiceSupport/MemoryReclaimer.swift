#if canImport(Glibc)
import Glibc
#endif
import ServiceLifecycle

/// Gives memory freed by a burst back to the operating system every few seconds.
///
/// glibc keeps freed blocks in per-thread arenas and rarely returns them: after a client creates
/// 100,000 watchers at once, the gateway's and the watch process's resident size stays at the peak of
/// requests in flight long after only the watchers themselves remain. Operators size machines by
/// resident memory, so it should follow what the process actually holds. `malloc_trim` releases the
/// free pages of every arena; it takes a few milliseconds and is a no-op when there is nothing to free.
public struct MemoryReclaimer: Service {
    private let interval: Duration

    /// glibc's `malloc_trim`, which Swift's Glibc module does not export (it lives in `malloc.h`);
    /// nil on other C libraries.
    private static let trim: (@convention(c) (Int) -> Int32)? = {
        #if canImport(Glibc)
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)
        #else
        return nil
        #endif
    }()

    public init(interval: Duration = .seconds(5)) {
        self.interval = interval
    }

    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            } catch {
                return
            }
            _ = Self.trim?(0)
        }
    }
}
