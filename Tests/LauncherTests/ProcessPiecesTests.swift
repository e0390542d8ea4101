import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

@testable import Launcher

@Suite("Restart backoff, exit status, trampoline and client port checks", .timeLimit(.minutes(10)))
struct ProcessPiecesTests {
    @Test("backoff starts at 100 ms, doubles to 2 s and resets after 10 s of uptime")
    func backoff() {
        var backoff = RestartBackoff(policy: RestartPolicy())
        let quick: [Duration] = (0..<7).map { _ in backoff.delay(afterUptime: .milliseconds(5)) }
        #expect(quick == [
            .milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800),
            .milliseconds(1600), .seconds(2), .seconds(2),
        ])
        #expect(backoff.delay(afterUptime: .seconds(9)) == .seconds(2))
        #expect(backoff.delay(afterUptime: .seconds(10)) == .milliseconds(100))
        #expect(backoff.delay(afterUptime: .seconds(1)) == .milliseconds(200))
    }

    @Test("waitpid status words decode to exit codes and signals")
    func exitStatus() {
        #expect(ServiceExitStatus(waitStatus: 3 << 8) == .exited(code: 3))
        #expect(ServiceExitStatus(waitStatus: 0) == .exited(code: 0))
        #expect(ServiceExitStatus(waitStatus: 9) == .signaled(signal: 9))
        #expect(ServiceExitStatus(waitStatus: 0x80 | 11) == .signaled(signal: 11))
        #expect(ServiceExitStatus.signaled(signal: 9).description == "signal 9")
        #expect(ServiceExitStatus.exited(code: 3).description == "exit code 3")
    }

    @Test("the trampoline command carries the parent pid and the service's own argv")
    func trampolineCommand() {
        let command = ChildTrampoline.command(
            trampoline: "/opt/bin/etcetera",
            executable: "/opt/bin/etcetera-kv",
            arguments: ["--listen", "ipc:///d/bus/kv.sock"],
            parent: 42
        )
        #expect(command.path == "/opt/bin/etcetera")
        #expect(command.arguments == [ChildTrampoline.marker, "42", "/opt/bin/etcetera-kv", "--listen", "ipc:///d/bus/kv.sock"])
    }

    @Test("the executable locator honours ETCETERA_BIN_DIR and reports missing binaries")
    func locator() throws {
        let locator = ExecutableLocator.besideRunningExecutable(environment: ["ETCETERA_BIN_DIR": "/bin"])
        #expect(try locator.locate("sh") == "/bin/sh")
        let error = try #require(throws: LauncherError.self) { try locator.locate("etcetera-none") }
        #expect(error.code == .executableNotFound)
        #expect(ExecutableLocator.runningExecutablePath?.hasPrefix("/") == true)
    }

    @Test("the TCP readiness check passes only while something listens, and the port counts as taken")
    func tcpReadiness() async throws {
        let listener = try LoopbackListener()
        let url = try ClientURL("http://127.0.0.1:\(listener.port)")
        let check = ReadinessCheck.tcpConnect(to: url, member: MemberAnnouncement(name: "default", clientURLs: [url.string], memberID: 1, clusterID: 2))
        #expect(check.probe())
        #expect(throws: LauncherError.self) { try url.ensureAddressAvailable() }
        listener.close()
        // A process spawned concurrently by another test holds a copy of the socket until its exec.
        #expect(await eventually { !check.probe() })
        try url.ensureAddressAvailable()
    }
}

/// A listening TCP socket on an ephemeral loopback port.
final class LoopbackListener {
    private var descriptor: Int32
    let port: Int

    init() throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(descriptor, pointer, length) == 0 && listen(descriptor, 16) == 0
                    && getsockname(descriptor, pointer, &length) == 0
            }
        }
        try #require(bound)
        self.descriptor = descriptor
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    func close() {
        if descriptor >= 0 {
            _ = Glibc.close(descriptor)
            descriptor = -1
        }
    }

    deinit {
        close()
    }
}
