import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A dedicated OS thread that owns the ZeroMQ sockets of one bus object and runs its poll loop.
final class IOThread: Sendable {
    #if canImport(Glibc)
    private let thread: pthread_t
    #else
    private nonisolated(unsafe) let thread: pthread_t
    #endif
    private let joined = Mutex(false)

    private final class Start {
        let name: String
        let body: () -> Void
        init(name: String, body: @escaping () -> Void) {
            self.name = name
            self.body = body
        }
    }

    /// Starts a thread running `body`, which takes ownership of everything it captures.
    init(name: String, body: sending @escaping () -> Void) throws(SetupFailure) {
        let start = Unmanaged.passRetained(Start(name: name, body: body)).toOpaque()
        #if canImport(Glibc)
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { argument in
            let start = Unmanaged<Start>.fromOpaque(argument!).takeRetainedValue()
            start.body()
            return nil
        }, start)
        guard rc == 0 else {
            Unmanaged<Start>.fromOpaque(start).release()
            throw SetupFailure("pthread_create: \(String(cString: strerror(rc)))")
        }
        self.thread = thread
        #else
        var thread: pthread_t?
        let rc = pthread_create(&thread, nil, { argument in
            let start = Unmanaged<Start>.fromOpaque(argument).takeRetainedValue()
            _ = pthread_setname_np(String(start.name.prefix(63)))
            start.body()
            return nil
        }, start)
        guard rc == 0, let thread else {
            Unmanaged<Start>.fromOpaque(start).release()
            throw SetupFailure("pthread_create: \(String(cString: strerror(rc)))")
        }
        self.thread = thread
        #endif
    }

    /// True when called on this I/O thread.
    var isCurrent: Bool { pthread_equal(pthread_self(), thread) != 0 }

    /// Waits for the thread to exit. On the I/O thread itself it cannot wait: it detaches the thread instead
    /// (unless another thread is already waiting for it).
    func join() {
        if isCurrent {
            _ = joined.withLockIfAvailable { joined in
                if !joined {
                    pthread_detach(thread)
                    joined = true
                }
            }
            return
        }
        joined.withLock { joined in
            if !joined {
                pthread_join(thread, nil)
                joined = true
            }
        }
    }
}
