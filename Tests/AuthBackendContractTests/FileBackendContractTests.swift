import EtceteraAPI
import Foundation
import Testing
import TestSupport

/// The file backends' part of the contract (docs/auth-plugins.md, "The file backend"): reloads, tokens
/// across reloads, broken edits and broken files.
@Suite("Auth file backend contract", .timeLimit(.minutes(10)))
struct FileBackendContractTests {
    @Test("an edit raises the revision by one, publishes it and changes the snapshot", arguments: BackendUnderTest.fileReading)
    func editReloads(_ backend: BackendUnderTest) async throws {
        let running = try await RunningBackend.start(backend)
        defer { running.kill() }
        let before = try await running.permissions()
        #expect(before.revision == 1)
        var users = ContractFixture.users
        users[2] = .init(name: "bob", password: "bobpw", hash: users[2].hash, roles: ["reader", "writer"])
        try running.writeFile(try ContractFixture.json(users: users))
        let event = try #require(await running.event(timeout: .seconds(10)) { $0.revision > before.revision })
        #expect(event.revision == before.revision + 1 && event.enabled)
        let after = try await running.permissions()
        #expect(after.revision == before.revision + 1)
        #expect(after.users.first { $0.name == "bob" }?.roles == ["reader", "writer"])
        #expect(after.users.first { $0.name == "bob" }?.read == after.users.first { $0.name == "alice" }?.read)
        #expect(try await running.request { $0.userGet.name = "bob" }.userGet.roles == ["reader", "writer"])
        await running.stop()
    }

    @Test("tokens of a removed user or of a changed password end at the reload; other tokens live on", arguments: BackendUnderTest.fileReading)
    func tokensAcrossReloads(_ backend: BackendUnderTest) async throws {
        let running = try await RunningBackend.start(backend)
        defer { running.kill() }
        let alice = try await running.token("alice", "alicepw")
        let bob = try await running.token("bob", "bobpw")
        let root = try await running.token("root", "rootpw")
        var users = ContractFixture.users.filter { $0.name != "bob" }
        users[1] = .init(name: "alice", password: "alicepw2", hash: ContractFixture.aliceSecondHash, roles: ["reader", "writer"])
        try running.writeFile(try ContractFixture.json(users: users))
        _ = try #require(await running.event(timeout: .seconds(10)) { $0.revision == 2 })
        #expect(try await running.errorCode { $0.resolveToken.token = bob } == "auth.invalid_token")
        #expect(try await running.errorCode { $0.resolveToken.token = alice } == "auth.invalid_token")
        let resolved = try await running.request { $0.resolveToken.token = root }
        #expect(resolved.resolveToken.user == "root" && resolved.resolveToken.authRevision == 2)
        #expect(try await running.errorCode { $0.authenticate = .with { $0.name = "alice"; $0.password = "alicepw" } } == "auth.failed")
        #expect(try await !running.token("alice", "alicepw2").isEmpty)
        #expect(try await running.errorCode { $0.authenticate = .with { $0.name = "bob"; $0.password = "bobpw" } } == "auth.failed")
        await running.stop()
    }

    @Test("a broken edit keeps the last good state; the next good edit is taken in", arguments: BackendUnderTest.fileReading)
    func brokenEdit(_ backend: BackendUnderTest) async throws {
        let running = try await RunningBackend.start(backend)
        defer { running.kill() }
        let before = try await running.permissions()
        try running.writeFile("{ \"enabled\": true, \"users\": [ { \"name\": \"alice\" ")
        try await Task.sleep(for: .seconds(2.5))
        #expect(running.isRunning)
        #expect(try await running.permissions() == before)
        #expect(try await !running.token("alice", "alicepw").isEmpty)
        try running.writeFile(try ContractFixture.json(enabled: false))
        _ = try #require(await running.event(timeout: .seconds(10)) { $0.revision == before.revision + 1 })
        #expect(try await !running.permissions().enabled)
        await running.stop()
    }

    @Test("a broken file at start: exit status 1 and one line on stderr naming the file", arguments: BackendUnderTest.fileReading)
    func brokenFileAtStart(_ backend: BackendUnderTest) async throws {
        let broken = [
            "not json",
            #"{"enabled": true, "users": [{"name": "alice", "roles": []}]}"#,
            #"{"users": [{"name": "a", "no_password": true}, {"name": "a", "no_password": true}]}"#,
            #"{"users": [{"name": "a", "password_hash": "plain", "roles": []}]}"#,
            #"{"roles": [{"name": "r", "permissions": [{"type": "READ"}]}]}"#,
            #"{"roles": [{"name": "r", "permissions": [{"type": "EXECUTE", "key": "k"}]}]}"#,
        ]
        for contents in broken {
            let directory = try RunningBackend.makeTemporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: directory) }
            try contents.write(toFile: directory + "/auth.json", atomically: true, encoding: .utf8)
            let output = try await Command.run("/usr/bin/timeout", ["10", backend.executable] + backend.arguments(directory: directory, tokenTTL: 300))
            #expect(output.status == 1, "\(contents): \(output.stderr)")
            let lines = output.stderr.split(separator: "\n")
            #expect(lines.count == 1 && lines.first?.contains(directory + "/auth.json") == true, "\(contents): \(output.stderr)")
        }
    }
}
