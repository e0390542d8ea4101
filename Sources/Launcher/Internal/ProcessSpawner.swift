#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `posix_spawn` with the settings a supervised service needs.
///
/// - Every signal disposition is reset to its default and the signal mask cleared: the launcher ignores
///   SIGTERM/SIGINT (they are delivered through dispatch sources), and ignored signals would otherwise be
///   inherited, leaving services deaf to the launcher's SIGTERM.
/// - Each service gets its own process group, so a Ctrl-C in a terminal reaches only the launcher, which
///   then stops the services in order instead of all of them dying at once and being "restarted".
/// - stdin is `/dev/null`; stdout and stderr are inherited; every other descriptor is closed (where glibc
///   has `posix_spawn_file_actions_addclosefrom_np`), so a service never holds the launcher's sockets.
enum ProcessSpawner {
    static func spawn(path: String, arguments: [String]) throws -> pid_t {
        #if os(Linux)
        var attributes = posix_spawnattr_t()
        var actions = posix_spawn_file_actions_t()
        #else
        var attributes: posix_spawnattr_t? = nil
        var actions: posix_spawn_file_actions_t? = nil
        #endif
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }

        var defaultSignals = sigset_t()
        sigfillset(&defaultSignals)
        sigdelset(&defaultSignals, SIGKILL)
        sigdelset(&defaultSignals, SIGSTOP)
        posix_spawnattr_setsigdefault(&attributes, &defaultSignals)
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attributes, &mask)
        posix_spawnattr_setpgroup(&attributes, 0)
        let flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP
        posix_spawnattr_setflags(&attributes, Int16(flags))
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        #if os(Linux)
        _ = addCloseFrom?(&actions, 3)
        #endif

        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        defer {
            for pointer in argv { free(pointer) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, path, &actions, &attributes, argv, environ)
        guard result == 0 else {
            throw LauncherError(
                code: .spawnFailed,
                message: "cannot start \(path): \(String(cString: strerror(result)))"
            )
        }
        return pid
    }

    #if os(Linux)
    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

    /// `posix_spawn_file_actions_addclosefrom_np`, looked up at run time: it exists since glibc 2.34.
    private static let addCloseFrom: AddCloseFrom? = {
        guard let process = dlopen(nil, RTLD_NOW),
            let symbol = dlsym(process, "posix_spawn_file_actions_addclosefrom_np")
        else { return nil }
        return unsafeBitCast(symbol, to: AddCloseFrom.self)
    }()
    #endif
}
