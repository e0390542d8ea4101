import Auth
import EtceteraAPI
import Foundation
import Testing
import TestSupport

/// docs/auth-plugins.md, checked against backend processes over the bus with the contract's messages only.
/// Every test runs once per backend in ``BackendUnderTest/all``, each with the same fixture.
@Suite("Auth backend contract", .timeLimit(.minutes(10)))
struct AuthBackendContractTests {
    @Test("PING is answered by a PONG with its id; a REQUEST by exactly one FINAL with its id", arguments: BackendUnderTest.all)
    func framing(_ backend: BackendUnderTest) async throws {
        let running = try await RunningBackend.start(backend)
        defer { running.kill() }
        let dealer = try RawDealer(connect: "ipc://\(running.directory)/auth.sock")
        dealer.send(command: 0x02, id: 77)
        let pong = try #require(await dealer.receive())
        #expect(pong.command == 0x05 && pong.id == 77 && pong.frames.isEmpty)

        dealer.send(command: 0x01, id: 0x0102_0304_0506_0708, argument: 5_000, payload: try Etcetera_Auth_AuthRequest.encoded { $0.userList = .init() })
        let final = try #require(await dealer.receive())
        #expect(final.command == 0x04 && final.id == 0x0102_0304_0506_0708 && final.argument == 0 && final.frames.count == 1)
        let reply = try Etcetera_Auth_AuthReply(serializedBytes: try #require(final.frames.first))
        #expect(reply.userList.users == ["alice", "bob", "root", "svc"])
        await running.stop()
    }

    @Test("an undecodable request or one with nothing set gets bus.malformed_request, and the backend keeps serving", arguments: BackendUnderTest.all)
    func malformedRequest(_ backend: BackendUnderTest) async throws {
        let running = try await RunningBackend.start(backend)
        defer { running.kill() }
        let revision = try await running.revision()
        for payload: [UInt8] in [[0xFF, 0xFF, 0xFF, 0x07], []] {
            let reply = try await running.send(payload)
            #expect(reply.error.code == "bus.malformed_request")
            #expect(reply.authRevision == revision)
        }
        #expect(try await running.request { $0.userList = .init() }.userList.users.count == 4)
        await running.stop()
    }

    @Test("authenticate: a good password gets a token; a wrong password and an unknown user get auth.failed", arguments: BackendUnderTest.all)
    func authenticate(_ backend: BackendUnderTest) async throws {
        let running = try await RunningBackend.start(backend)
        defer { running.kill() }
        #expect(try await !running.token("alice", "alicepw").isEmpty)
        #expect(try await !running.token("root", "rootpw").isEmpty)
        #expect(try await running.errorCode { $0.authenticate = .with { $0.name = "alice"; $0.password = "wrong" } } == "auth.failed")
        #expect(try await running.errorCode { $0.authenticate = .with { $0.name = "nobody"; $0.password = "alicepw" } } == "auth.failed")
        #expect(try await running.errorCode { $0.authenticate = .with { $0.name = "svc"; $0.password = "x" } } == "auth.no_password_user")
        await running.stop()
    }

    @Test("authenticate while auth is off gets auth.not_enabled", arguments: BackendUnderTest.all)
    func authenticateWhileDisabled(_ backend: BackendUnderTest) async throws {
        let running = try await RunningBackend.start(backend, enabled: false)
        defer { running.kill() }
        #expect(try await running.errorCode { $0.authenticate = .with { $0.name = "alice"; $0.password = "alicepw" } } == "auth.not_enabled")
        #expect(try await !running.permissions().enabled)
        await running.stop()
    }

    @Test("resolve_token names the token's user at the current revision; garbage and empty tokens are auth.invalid_token", arguments: BackendUnderTest.all)
    func resolveToken(_ backend: BackendUnderTest) async throws {
        let running = try await RunningBackend.start(backend)
        defer { running.kill() }
        let token = try await running.token("alice", "alicepw")
        let reply = try await running.request { $0.resolveToken.token = token }
        #expect(reply.resolveToken.user == "alice")
        #expect(reply.resolveToken.authRevision == reply.authRevision)
        #expect(reply.resolveToken.authRevision == (try await running.revision()))
        #expect(try await running.errorCode { $0.resolveToken.token = "garbage.1" } == "auth.invalid_token")
        #expect(try await running.errorCode { $0.resolveToken.token = "" } == "auth.invalid_token")
        await running.stop()
    }

    @Test("each resolution renews a token: used within its TTL it lives on, left alone it expires", arguments: BackendUnderTest.all)
    func tokenRenewal(_ backend: BackendUnderTest) async throws {
        // A TTL of 10 s used once a second: nine seconds of slack for a machine busy starting the other
        // tests' backends, and still 12 s of use, past the TTL.
        let running = try await RunningBackend.start(backend, tokenTTL: 10)
        defer { running.kill() }
        let token = try await running.token("alice", "alicepw")
        for _ in 0..<12 {
            try await Task.sleep(for: .seconds(1))
            let reply = try await running.request { $0.resolveToken.token = token }
            #expect(reply.resolveToken.user == "alice", "used every second: renewed past its 10 s TTL: \(reply)\n\(running.log)")
        }
        try await Task.sleep(for: .seconds(12))
        #expect(try await running.errorCode { $0.resolveToken.token = token } == "auth.invalid_token")
        await running.stop()
    }

    @Test("the permission snapshot: every user in byte order, root, roles and the merged ranges of the Auth library", arguments: BackendUnderTest.all)
    func permissionSnapshot(_ backend: BackendUnderTest) async throws {
        let running = try await RunningBackend.start(backend)
        defer { running.kill() }
        let snapshot = try await running.permissions()
        #expect(snapshot.enabled)
        #expect(snapshot.revision >= 1)
        #expect(snapshot.users.map(\.name) == ["alice", "bob", "root", "svc"])
        #expect(snapshot.users.map(\.isRoot) == [false, false, true, false])
        #expect(snapshot.users.map(\.roles) == [["reader", "writer"], ["writer"], ["root"], ["reader"]])
        let expected = ContractFixture.expectedMerge()
        for user in snapshot.users {
            let merged = try #require(expected[user.name])
            #expect(user.read.map(Self.range) == merged.read, "\(user.name) read")
            #expect(user.write.map(Self.range) == merged.write, "\(user.name) write")
        }
        // Spelled out for alice: /app/x lies inside /app/ and disappears; [a, b) and [b, c) are adjacent and join.
        let alice = try #require(snapshot.users.first)
        #expect(alice.read.map(Self.range) == [
            KeyRange(key: Array("/app/".utf8), rangeEnd: Array("/app0".utf8)),
            KeyRange(key: Array("a".utf8), rangeEnd: Array("c".utf8)),
            KeyRange(key: Array("config".utf8), rangeEnd: Array("config".utf8) + [0]),
        ])
        #expect(alice.write.map(Self.range) == [
            KeyRange(key: Array("/app/".utf8), rangeEnd: Array("/app0".utf8)),
            KeyRange(key: Array("config".utf8), rangeEnd: Array("config".utf8) + [0]),
            KeyRange(key: Array("logs/".utf8), rangeEnd: [0]),
        ])
        await running.stop()
    }

    @Test("user_get, user_list, role_get and role_list answer from the fixture; unknown names are not found", arguments: BackendUnderTest.all)
    func reads(_ backend: BackendUnderTest) async throws {
        let running = try await RunningBackend.start(backend)
        defer { running.kill() }
        #expect(try await running.request { $0.userGet.name = "alice" }.userGet.roles == ["reader", "writer"])
        #expect(try await running.request { $0.userGet.name = "svc" }.userGet.roles == ["reader"])
        #expect(try await running.errorCode { $0.userGet.name = "nobody" } == "auth.user_not_found")
        #expect(try await running.request { $0.userList = .init() }.userList.users == ["alice", "bob", "root", "svc"])
        #expect(try await running.request { $0.roleList = .init() }.roleList.roles == ["reader", "writer"])
        let reader = try await running.request { $0.roleGet.role = "reader" }.roleGet.perm
        #expect(reader.map { Permission(PermissionType(rawValue: Int32($0.permType.rawValue))!, key: Array($0.key), rangeEnd: Array($0.rangeEnd)) }
            == ContractFixture.roles[0].permissions)
        #expect(try await running.errorCode { $0.roleGet.role = "ghost" } == "auth.role_not_found")
        await running.stop()
    }

    @Test("reads and refusals leave the revision as it is, and every reply carries it", arguments: BackendUnderTest.all)
    func revisionUnchangedByReadsAndRefusals(_ backend: BackendUnderTest) async throws {
        let running = try await RunningBackend.start(backend)
        defer { running.kill() }
        let revision = try await running.revision()
        let token = try await running.token("bob", "bobpw")
        let requests: [(inout Etcetera_Auth_AuthRequest) -> Void] = [
            { $0.userGet.name = "alice" }, { $0.userGet.name = "nobody" }, { $0.userList = .init() },
            { $0.roleGet.role = "reader" }, { $0.roleGet.role = "ghost" }, { $0.roleList = .init() },
            { $0.resolveToken.token = token }, { $0.resolveToken.token = "garbage" }, { $0.permissions = .init() },
            { $0.authenticate = .with { $0.name = "alice"; $0.password = "wrong" } },
            { $0.userAdd = .with { $0.name = "alice"; $0.password = "x" } },
            { $0.roleAdd.name = "reader" },
            { $0.userRevokeRole = .with { $0.name = "bob"; $0.role = "reader" } },
            { $0.userDelete.name = "root" },
        ]
        for request in requests {
            #expect(try await running.request(request).authRevision == revision)
        }
        #expect(try await running.revision() == revision)
        await running.stop()
    }

    @Test("events carry the revision, the enabled flag and a non-zero instance, about once a second", arguments: BackendUnderTest.all)
    func events(_ backend: BackendUnderTest) async throws {
        let running = try await RunningBackend.start(backend)
        defer { running.kill() }
        let revision = try await running.revision()
        let first = try #require(await running.event(timeout: .seconds(10)) { $0.revision == revision })
        #expect(first.enabled && first.instance != 0)
        let seen = running.events.count
        let started = ContinuousClock.now
        #expect(await eventually { running.events.count >= seen + 2 }, "heartbeats keep coming")
        let heartbeats = running.events.dropFirst(seen)
        // A busy machine delays heartbeats but never makes more of them.
        let seconds = Double((ContinuousClock.now - started).components.seconds + 1)
        #expect(Double(heartbeats.count) <= seconds * 2 + 1, "\(heartbeats.count) heartbeats in \(seconds) s")
        #expect(heartbeats.allSatisfy { $0.revision == revision && $0.instance == first.instance })
        await running.stop()
    }

    @Test("changes: a writable backend applies them and publishes; a read-only one answers auth.read_only and changes nothing", arguments: BackendUnderTest.all)
    func changes(_ backend: BackendUnderTest) async throws {
        let running = try await RunningBackend.start(backend)
        defer { running.kill() }
        let before = try await running.permissions()
        let token = try await running.token("alice", "alicepw")
        _ = try #require(await running.event(timeout: .seconds(10)))
        switch backend.kind {
        case .writable:
            let added = try await running.succeed { $0.roleAdd.name = "auditor" }
            #expect(added.authRevision == before.revision + 1)
            #expect(await running.event(skipping: 0) { $0.revision == added.authRevision } != nil)
            #expect(try await running.errorCode { $0.roleAdd.name = "auditor" } == "auth.role_already_exists")
            #expect(try await running.errorCode { $0.userDelete.name = "root" } == "auth.invalid_management")
            let deleted = try await running.succeed { $0.userDelete.name = "alice" }
            #expect(deleted.authRevision == added.authRevision + 1)
            #expect(try await running.errorCode { $0.resolveToken.token = token } == "auth.invalid_token")
            #expect(try await running.permissions().users.map(\.name) == ["bob", "root", "svc"])
        case .fileReading:
            let changes: [(inout Etcetera_Auth_AuthRequest) -> Void] = [
                { $0.authEnable = .init() }, { $0.authDisable = .init() },
                { $0.userAdd = .with { $0.name = "carol"; $0.password = "pw" } }, { $0.userAdd = .with { $0.name = "" } },
                { $0.userDelete.name = "alice" }, { $0.userChangePassword = .with { $0.name = "alice"; $0.password = "new" } },
                { $0.userGrantRole = .with { $0.user = "bob"; $0.role = "reader" } },
                { $0.userRevokeRole = .with { $0.name = "alice"; $0.role = "reader" } },
                { $0.roleAdd.name = "auditor" }, { $0.roleDelete.role = "reader" },
                { $0.roleGrantPermission = .with { $0.name = "writer"; $0.perm = .with { $0.key = Data("z".utf8) } } },
                { $0.roleRevokePermission = .with { $0.role = "reader"; $0.key = Data("config".utf8) } },
            ]
            for change in changes {
                let reply = try await running.request(change)
                #expect(reply.error.code == "auth.read_only")
                #expect(reply.authRevision == before.revision)
            }
            #expect(try await running.permissions() == before)
            #expect(try await running.request { $0.resolveToken.token = token }.resolveToken.user == "alice")
            #expect(running.events.allSatisfy { $0.revision == before.revision })
        }
        await running.stop()
    }

    static func range(_ wire: Etcetera_Auth_KeyRange) -> KeyRange {
        KeyRange(key: Array(wire.key), rangeEnd: Array(wire.rangeEnd))
    }
}
