import EtceteraAPI
import Foundation
import GRPCCore
import Synchronization
import TestSupport
import Testing

/// Storage faults injected with the LD_PRELOAD shim (docs/reliability.md, "Fault injection"): a failed
/// write or sync stops the service before it answers (its client gets `Unavailable`, never success),
/// the launcher restarts it, and once the disk is healthy again it serves with nothing corrupt; a
/// disk that stalls for seconds slows writes down without making the kv look dead.
@Suite("Storage faults", .serialized)
struct StorageFaultTests {
    @Test(
        "a failed write or sync stops etcetera-kv before it answers; restarted, it serves an intact store",
        .timeLimit(.minutes(10)), arguments: ["fail-sync-after 0", "fail-write-after 0"])
    func kvStorageFailure(fault: String) async throws {
        let shim = try await FaultShim.make()
        defer { shim.remove() }
        let etcetera = try await ServerProcess.etcetera(environment: shim.environment)
        defer { etcetera.stop() }
        let directory = etcetera.dataDirectory + "/member/kv"
        try await withEtcdClient(port: etcetera.port) { client in
            let before = try await client.kv.put(Build.put("before", "1")).header.revision
            try shim.set(["path-prefix \(directory)", fault])
            try await expectUnavailable("a put whose \(fault) fault stopped the kv") {
                _ = try await client.kv.put(Build.put("doomed", "1"))
            }
            try await expectFailStop(of: "etcetera-kv", in: directory, etcetera)
            shim.clear()
            try await untilSucceeds { _ = try await client.kv.put(Build.put("after", "1")) }

            // The failed put may be on disk (its log record was appended before the sync failed) or
            // not; either way the store holds together and says the same thing every time.
            let doomed = try await client.kv.range(Build.get("doomed"))
            #expect(doomed.kvs.allSatisfy { $0.modRevision == before + 1 })
            #expect(try await client.kv.range(Build.get("doomed")).kvs == doomed.kvs)
            #expect(try await client.kv.range(Build.get("before")).kvs.map(\.modRevision) == [before])
            #expect(try await client.kv.range(Build.get("after")).count == 1)
            #expect(try await client.maintenance.alarm(Self.listAlarms).alarms.isEmpty, "no CORRUPT alarm")
            let checks = etcetera.log.components(separatedBy: "initial corruption check passed").count - 1
            #expect(checks >= 2, "the restarted kv passed its integrity check")
        }
    }

    @Test("a failed sync stops etcetera-lease before it grants; restarted, it grants again", .timeLimit(.minutes(10)))
    func leaseStorageFailure() async throws {
        let shim = try await FaultShim.make()
        defer { shim.remove() }
        let etcetera = try await ServerProcess.etcetera(environment: shim.environment)
        defer { etcetera.stop() }
        let directory = etcetera.dataDirectory + "/member/lease"
        try await withEtcdClient(port: etcetera.port) { client in
            let kept = try await client.lease.leaseGrant(Self.grant(ttl: 600)).id
            try shim.set(["path-prefix \(directory)", "fail-sync-after 0"])
            try await expectUnavailable("a grant whose sync failed") { _ = try await client.lease.leaseGrant(Self.grant(ttl: 600)) }
            try await expectFailStop(of: "etcetera-lease", in: directory, etcetera)
            shim.clear()
            let granted = try await untilSucceeds { try await client.lease.leaseGrant(Self.grant(ttl: 600)).id }
            let leases = try await client.lease.leaseLeases(Etcdserverpb_LeaseLeasesRequest()).leases.map(\.id)
            #expect(leases.contains(kept) && leases.contains(granted))
            _ = try await client.kv.put(Build.put("leased", "1") { $0.lease = granted })
        }
    }

    @Test("a failed sync stops etcetera-auth before it adds a user; restarted, it adds users again", .timeLimit(.minutes(10)))
    func authStorageFailure() async throws {
        let shim = try await FaultShim.make()
        defer { shim.remove() }
        let etcetera = try await ServerProcess.etcetera(environment: shim.environment)
        defer { etcetera.stop() }
        let directory = etcetera.dataDirectory + "/member/auth"
        try await withEtcdClient(port: etcetera.port) { client in
            _ = try await client.auth.userAdd(Self.user("kept"))
            try shim.set(["path-prefix \(directory)", "fail-sync-after 0"])
            try await expectUnavailable("a user add whose sync failed") { _ = try await client.auth.userAdd(Self.user("doomed")) }
            try await expectFailStop(of: "etcetera-auth", in: directory, etcetera)
            shim.clear()
            try await untilSucceeds { _ = try await client.auth.userAdd(Self.user("after")) }
            let users = try await client.auth.userList(Etcdserverpb_AuthUserListRequest()).users
            #expect(users == ["after", "doomed", "kept"] || users == ["after", "kept"], "\(users)")
            #expect(try await client.auth.userList(Etcdserverpb_AuthUserListRequest()).users == users)
        }
    }

    @Test("with every sync of the kv stalled, reads are served while a put waits, and the put is written once the disk is back",
          .timeLimit(.minutes(5)))
    func slowDisk() async throws {
        let shim = try await FaultShim.make()
        defer { shim.remove() }
        let etcetera = try await ServerProcess.etcetera(environment: shim.environment)
        defer { etcetera.stop() }
        try await withEtcdClient(port: etcetera.port) { client in
            _ = try await client.kv.put(Build.put("k", "before"))
            // The stall lasts until the test lifts it (the shim ends a sleep in progress then), so how
            // long a busy machine takes to answer the reads cannot decide the outcome; the long delay
            // only bounds a test that goes wrong.
            try shim.set(["path-prefix \(etcetera.dataDirectory)/member/kv", "delay-sync-ms 120000"])
            let put = Task { try await client.kv.put(Build.put("k", "after")) }
            // Reads during the stall: a point read and a range, each answered with the value from
            // before the put, which waits for its sync meanwhile.
            var readsDuringStall = 0
            let deadline = ContinuousClock.now + .seconds(90)
            while readsDuringStall < 3, ContinuousClock.now < deadline {
                let point = try await client.kv.range(Build.get("k"))
                let range = try await client.kv.range(Build.get("a", "z"))
                #expect(point.kvs.map { String(decoding: $0.value, as: UTF8.self) } == ["before"], "the put is not visible before its sync")
                #expect(range.count == 1)
                readsDuringStall += 1
                try await Task.sleep(for: .milliseconds(200))
            }
            #expect(readsDuringStall == 3, "reads were answered while the put waited")
            shim.clear()
            // Answered, or timed out at the gateway (etcd's `request timed out`) if the stall outlasted
            // its 7 s: either way the write was in the group being synced, so it is written.
            let answered = try? await put.value
            var stored: [Mvccpb_KeyValue] = []
            let storedBy = ContinuousClock.now + .seconds(60)
            while stored.first.map({ String(decoding: $0.value, as: UTF8.self) }) != "after", ContinuousClock.now < storedBy {
                stored = try await client.kv.range(Build.get("k")).kvs
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(stored.map { String(decoding: $0.value, as: UTF8.self) } == ["after"], "the put was written once the disk was back")
            if let answered { #expect(stored.map(\.modRevision) == [answered.header.revision]) }
        }
        #expect(!etcetera.log.contains("etcetera-kv exited"), "the kv was never taken for dead")
    }

    @Test("a grant whose kv registration timed out is revoked, so its ID never keeps keys alive", .timeLimit(.minutes(5)))
    func ambiguousGrant() async throws {
        let shim = try await FaultShim.make()
        defer { shim.remove() }
        let etcetera = try await ServerProcess.etcetera(environment: shim.environment)
        defer { etcetera.stop() }
        let id: Int64 = 0x7E57
        try await withEtcdClient(port: etcetera.port) { client in
            _ = try await client.kv.put(Build.put("warm", "1"))
            // The kv commits the registration after the lease service's 5 s kv timeout.
            try shim.set(["path-prefix \(etcetera.dataDirectory)/member/kv", "delay-sync-ms 6500"])
            var grant = Self.grant(ttl: 3600)
            grant.id = id
            try await expectUnavailable("a grant whose registration timed out") { _ = try await client.lease.leaseGrant(grant) }
            shim.clear()
            // Meanwhile the kv may accept puts naming the lease; then the lease service revokes it,
            // and with it every key attached, long before its hour is up.
            _ = try? await client.kv.put(Build.put("orphan", "1") { $0.lease = id })
            let deadline = ContinuousClock.now + .seconds(60)
            var refused = false
            while !refused, ContinuousClock.now < deadline {
                do {
                    _ = try await client.kv.put(Build.put("probe", "1") { $0.lease = id })
                    try await Task.sleep(for: .milliseconds(200))
                } catch let error as RPCError where error.code == .notFound {
                    refused = true
                }
            }
            #expect(refused, "puts naming the withdrawn lease are refused")
            #expect(try await client.kv.range(Build.get("orphan")).kvs.isEmpty, "keys attached to it are gone")
            #expect(try await client.kv.range(Build.get("probe")).kvs.isEmpty)
            var timeToLive = Etcdserverpb_LeaseTimeToLiveRequest()
            timeToLive.id = id
            #expect(try await client.lease.leaseTimeToLive(timeToLive).ttl == -1, "the lease service does not have it")
        }
    }

    @Test("snapshot restore that fails or is killed midway leaves no data dir behind", .timeLimit(.minutes(5)))
    func restoreLeavesNothingBehind() async throws {
        let source = try await ServerProcess.etcetera()
        defer { source.stop() }
        let directory = TestPaths.temporaryDirectory(prefix: "restore-fault")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for index in 0..<20 { _ = try await Etcdctl.run(["put", "k\(index)", "v\(index)"], endpoint: source.endpoint) }
        let file = directory + "/store.snap"
        let save = try await Etcdctl.run(["snapshot", "save", file], endpoint: source.endpoint)
        #expect(save.status == 0, "\(save.stderr)")
        source.stop()
        let shim = try await FaultShim.make()
        defer { shim.remove() }
        let etcetera = TestPaths.executable("etcetera")
        let target = directory + "/restored"

        // Each sync of the restore in turn fails; whichever it is, the command fails and leaves nothing,
        // into a new data dir and into an empty one (a mount point, say), which stays empty.
        let empty = directory + "/empty"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        var failures = 0
        for failingSync in 0..<8 {
            for destination in [target, empty] {
                try shim.set(["path-prefix \(directory)", "fail-sync-after \(failingSync)"])
                let restore = try await Command.run(
                    etcetera, ["snapshot", "restore", file, "--data-dir", destination], environment: shim.environment)
                guard restore.status != 0 else {
                    try FileManager.default.removeItem(atPath: destination)
                    try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
                    continue
                }
                failures += 1
                #expect(restore.stderr.contains("cannot restore into"), "\(restore.stderr)")
                #expect(try FileManager.default.contentsOfDirectory(atPath: directory).sorted() == ["empty", "store.snap"], "sync \(failingSync)")
                #expect(try FileManager.default.contentsOfDirectory(atPath: empty) == [], "sync \(failingSync)")
            }
        }
        #expect(failures > 0)

        // Killed while its stores are being written: the target does not exist.
        try shim.set(["path-prefix \(directory)", "delay-sync-ms 60000"])
        let process = Process()
        process.executableURL = URL(fileURLWithPath: etcetera)
        process.arguments = ["snapshot", "restore", file, "--data-dir", target]
        process.environment = ProcessInfo.processInfo.environment.merging(shim.environment) { $1 }
        process.standardError = FileHandle.nullDevice
        try process.runAlone()
        #expect(await eventually { (try? FileManager.default.contentsOfDirectory(atPath: directory).count) == 3 })
        try await Task.sleep(for: .milliseconds(300))
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(!FileManager.default.fileExists(atPath: target))
        shim.clear()
        let restore = try await Command.run(etcetera, ["snapshot", "restore", file, "--data-dir", target])
        #expect(restore.status == 0, "a later restore succeeds: \(restore.stderr)")
    }

    @Test(
        "a full disk refuses puts with etcd's NOSPACE error, serves reads, and takes puts again once space is freed",
        .timeLimit(.minutes(5)), .enabled(if: FullDisk.canMount, "mounting a tmpfs needs root (mount -t tmpfs)"))
    func fullDisk() async throws {
        let disk = try await FullDisk(megabytes: 200)
        defer { disk.unmount() }
        let etcetera = try await ServerProcess.etcetera(dataDirectory: disk.path + "/data")
        defer { etcetera.stop() }
        try await withEtcdClient(port: etcetera.port) { client in
            _ = try await client.kv.put(Build.put("a", "1"))
            _ = try await client.kv.put(Build.put("b", "1"))
            // Leave 64 MiB, less than the store's reserve: the disk is full as far as puts go.
            try await disk.fill(leavingMegabytes: 64)
            do {
                _ = try await client.kv.put(Build.put("c", "1"))
                Issue.record("a put on a full disk succeeded")
            } catch let error as RPCError {
                #expect(error.code == .resourceExhausted && error.message == "etcdserver: mvcc: database space exceeded", "\(error)")
            }
            #expect(try await client.kv.range(Build.get("a", "z")).kvs.map(\.key) == [Data("a".utf8), Data("b".utf8)])
            _ = try await client.kv.deleteRange(Build.delete("b"))
            disk.free()
            let deadline = ContinuousClock.now + .seconds(30)
            var written = false
            while !written, ContinuousClock.now < deadline {
                do {
                    _ = try await client.kv.put(Build.put("c", "1"))
                    written = true
                } catch let error as RPCError where error.code == .resourceExhausted {
                    try await Task.sleep(for: .milliseconds(100))
                }
            }
            #expect(written, "puts resume once space is freed")
            #expect(try await client.kv.range(Build.get("a", "z")).kvs.map(\.key) == [Data("a".utf8), Data("c".utf8)])
            #expect(try await client.maintenance.alarm(Self.listAlarms).alarms.isEmpty, "no alarm to disarm")
        }
        #expect(!etcetera.log.contains("exited ("), "no service stopped")
    }

    // MARK: Helpers

    /// A small tmpfs, mounted for one test, to fill up.
    struct FullDisk {
        let path: String

        /// Whether this process may mount a tmpfs (it runs as root and the kernel allows it).
        static let canMount: Bool = {
            let probe = TestPaths.temporaryDirectory(prefix: "tmpfs-probe")
            defer { try? FileManager.default.removeItem(atPath: probe) }
            let mounted = Self.runBlocking("/bin/mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", probe]) == 0
            if mounted { _ = Self.runBlocking("/bin/umount", [probe]) } else {
                print("Storage faults: cannot mount a tmpfs here (not root?); the full-disk test is skipped")
            }
            return mounted
        }()

        init(megabytes: Int) async throws {
            path = TestPaths.temporaryDirectory(prefix: "full-disk")
            let mount = try await Command.run("/bin/mount", ["-t", "tmpfs", "-o", "size=\(megabytes)m", "tmpfs", path])
            guard mount.status == 0 else { throw TestFailure("mount -t tmpfs failed: \(mount.stderr)") }
        }

        /// Writes a file that leaves about `megabytes` free.
        func fill(leavingMegabytes megabytes: Int) async throws {
            var fileSystem = statvfs()
            guard statvfs(path, &fileSystem) == 0 else { throw TestFailure("statvfs \(path): errno \(errno)") }
            let free = Int(fileSystem.f_bavail) * Int(fileSystem.f_frsize)
            let fill = free / (1 << 20) - megabytes
            let written = try await Command.run("/bin/dd", ["if=/dev/zero", "of=\(path)/filler", "bs=1M", "count=\(fill)"])
            guard written.status == 0 else { throw TestFailure("dd failed: \(written.stderr)") }
        }

        func free() {
            try? FileManager.default.removeItem(atPath: path + "/filler")
        }

        func unmount() {
            if Self.runBlocking("/bin/umount", [path]) != 0 { _ = Self.runBlocking("/bin/umount", ["-l", path]) }
            try? FileManager.default.removeItem(atPath: path)
        }

        private static func runBlocking(_ executable: String, _ arguments: [String]) -> Int32 {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
            process.standardError = FileHandle.nullDevice
            guard (try? process.runAlone()) != nil else { return -1 }
            process.waitUntilExit()
            return process.terminationStatus
        }
    }

    final class Flag: Sendable {
        private let raised = Atomic(false)
        var isRaised: Bool { raised.load(ordering: .sequentiallyConsistent) }
        func raise() { raised.store(true, ordering: .sequentiallyConsistent) }
    }

    static let listAlarms: Etcdserverpb_AlarmRequest = {
        var request = Etcdserverpb_AlarmRequest()
        request.action = .get
        return request
    }()

    static func grant(ttl: Int64) -> Etcdserverpb_LeaseGrantRequest {
        var request = Etcdserverpb_LeaseGrantRequest()
        request.ttl = ttl
        return request
    }

    static func user(_ name: String) -> Etcdserverpb_AuthUserAddRequest {
        var request = Etcdserverpb_AuthUserAddRequest()
        request.name = name
        request.password = "secret"
        return request
    }

    /// `call` must fail with `Unavailable`: the outcome of a write whose service stopped is unknown.
    private func expectUnavailable(_ what: String, _ call: () async throws -> Void) async throws {
        do {
            try await call()
            Issue.record("\(what) succeeded")
        } catch let error as RPCError {
            #expect(error.code == .unavailable, "\(what): \(error)")
        }
    }

    /// The service logged why it stopped, exited with the fail-stop status and was restarted.
    private func expectFailStop(of service: String, in directory: String, _ etcetera: ServerProcess) async throws {
        let exited = "service \(service) exited (exit code 2), restarting"
        #expect(await eventually { etcetera.log.contains(exited) }, "\(etcetera.log.suffix(3000))")
        #expect(etcetera.log.contains("storage write failed in \(directory)"))
    }

    /// Retries `call` until the restarted service answers it.
    private func untilSucceeds<Result: Sendable>(_ call: () async throws -> Result) async throws -> Result {
        let deadline = ContinuousClock.now + .seconds(60)
        while true {
            do {
                return try await call()
            } catch let error as RPCError where error.code == .unavailable && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(200))
            }
        }
    }
}
