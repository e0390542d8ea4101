#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Makes services die with the launcher, even when the launcher is killed with SIGKILL.
///
/// Linux can deliver a signal to a process when its parent dies (`prctl(PR_SET_PDEATHSIG)`), but the
/// call must run inside the child, between fork and exec, which `posix_spawn` does not allow. So the
/// launcher spawns *itself* with ``marker`` as first argument; ``execIfRequested(_:)``, the first statement
/// of `etcetera`'s `main`, sets the parent-death signal to SIGTERM, checks that the launcher did not die in
/// the meantime, and `exec`s the service in the same process (same pid, so supervision is unaffected).
///
/// The kernel sends the signal when the *thread* that spawned the child exits, so the supervisor must
/// spawn from a thread that lives as long as the launcher: ``Supervisor/run()`` spawns on its calling
/// thread, and `etcetera` calls it on the main thread. On other systems the trampoline just `exec`s.
public enum ChildTrampoline {
    /// The first argument that selects trampoline mode. Not a user-facing flag.
    public static let marker = "--etcetera-exec-service"

    /// The command that runs `executable` with `arguments` through `trampoline`.
    /// - Parameters:
    ///   - trampoline: an executable whose `main` starts with ``execIfRequested(_:)`` (`etcetera`).
    ///   - parent: the launcher's pid; the service is not started if its parent is no longer this pid.
    public static func command(
        trampoline: String,
        executable: String,
        arguments: [String],
        parent: Int32
    ) -> (path: String, arguments: [String]) {
        (trampoline, [marker, String(parent), executable] + arguments)
    }

    /// If `arguments` (the full `CommandLine.arguments`) select trampoline mode, replaces this process by
    /// the service and never returns; otherwise returns immediately.
    public static func execIfRequested(_ arguments: [String]) {
        guard arguments.count >= 4, arguments[1] == marker else { return }
        let expectedParent = pid_t(arguments[2]) ?? -1
        let executable = arguments[3]
        #if os(Linux)
        setParentDeathSignal(SIGTERM)
        #endif
        guard getppid() == expectedParent else {
            _exit(0)
        }
        let argv: [UnsafeMutablePointer<CChar>?] = Array(arguments[3...]).map { strdup($0) } + [nil]
        execv(executable, argv)
        let reason = String(cString: strerror(errno))
        let message = Array("etcetera: cannot execute \(executable): \(reason)\n".utf8)
        _ = message.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        _exit(127)
    }

    #if os(Linux)
    /// `prctl(PR_SET_PDEATHSIG, signal)`. `prctl` is variadic, which Swift does not import, so it is called
    /// through a non-variadic pointer (equivalent for integer arguments on Linux's calling conventions).
    private static func setParentDeathSignal(_ signal: Int32) {
        typealias Prctl = @convention(c) (Int32, UInt, UInt, UInt, UInt) -> Int32
        let prSetPdeathsig: Int32 = 1
        guard let process = dlopen(nil, RTLD_NOW), let symbol = dlsym(process, "prctl") else { return }
        let prctl = unsafeBitCast(symbol, to: Prctl.self)
        _ = prctl(prSetPdeathsig, UInt(signal), 0, 0, 0)
    }
    #endif
}
