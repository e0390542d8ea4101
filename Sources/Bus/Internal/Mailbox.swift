import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The queue through which any thread hands work to an I/O thread, with a wake-up pipe that the I/O thread
/// polls next to its sockets.
///
/// The pipe is written only when the I/O thread has announced it is about to sleep, and only by the first
/// poster after that announcement; under load the I/O thread never sleeps and posting costs one lock.
final class Mailbox<Command: Sendable>: Sendable {
    private struct State {
        var commands: [Command] = []
        var sleeping = false
        var stopRequested = false
        var closed = false
    }

    private let state = Mutex(State())
    private let readFD: Int32
    private let writeFD: Int32

    init() throws(SetupFailure) {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw SetupFailure("pipe: \(String(cString: strerror(errno)))") }
        for fd in fds {
            _ = fcntl(fd, F_SETFL, O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        readFD = fds[0]
        writeFD = fds[1]
    }

    deinit {
        closeDescriptor(readFD)
        closeDescriptor(writeFD)
    }

    /// The file descriptor the I/O thread polls for readability.
    var wakeFD: Int32 { readFD }

    /// Queues a command. Returns false, leaving the command with the caller, once the I/O thread has exited.
    func post(_ command: Command) -> Bool {
        let (accepted, wake) = state.withLock { state -> (Bool, Bool) in
            guard !state.closed else { return (false, false) }
            state.commands.append(command)
            guard state.sleeping else { return (true, false) }
            state.sleeping = false
            return (true, true)
        }
        if wake { signal() }
        return accepted
    }

    /// Asks the I/O thread to finish: it fails what is pending, closes its sockets and exits.
    func requestStop() {
        let wake = state.withLock { state -> Bool in
            guard !state.closed, !state.stopRequested else { return false }
            state.stopRequested = true
            let wake = state.sleeping
            state.sleeping = false
            return wake
        }
        if wake { signal() }
    }

    /// I/O thread: moves the queued commands into `buffer` (which must be empty) and reports whether a stop
    /// was requested. Swapping buffers keeps their capacity, so draining does not allocate.
    func drain(into buffer: inout [Command]) -> Bool {
        state.withLock { state in
            swap(&state.commands, &buffer)
            return state.stopRequested
        }
    }

    /// I/O thread: announces that it is about to sleep; false when work arrived meanwhile (do not sleep).
    func prepareToSleep() -> Bool {
        state.withLock { state in
            guard state.commands.isEmpty, !state.stopRequested else { return false }
            state.sleeping = true
            return true
        }
    }

    /// I/O thread: called after waking; empties the pipe when the poll said it was readable.
    func didWake(pipeReadable: Bool) {
        state.withLock { $0.sleeping = false }
        guard pipeReadable else { return }
        var sink: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        while withUnsafeMutableBytes(of: &sink, { read(readFD, $0.baseAddress, $0.count) }) > 0 {}
    }

    /// I/O thread, when exiting: refuses further commands and returns those still queued.
    func close() -> [Command] {
        state.withLock { state in
            state.closed = true
            let left = state.commands
            state.commands = []
            return left
        }
    }

    private func signal() {
        var byte: UInt8 = 1
        _ = write(writeFD, &byte, 1)
    }
}

private func closeDescriptor(_ fd: Int32) {
    #if canImport(Glibc)
    _ = Glibc.close(fd)
    #elseif canImport(Darwin)
    _ = Darwin.close(fd)
    #endif
}
