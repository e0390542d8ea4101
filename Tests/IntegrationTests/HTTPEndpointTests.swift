import Foundation
import TestSupport
import Testing

/// The client port's HTTP/1.1 side, next to gRPC on the same port: `/health` and `/version` answer
/// what etcd answers, headers included, and `/health` turns false under an alarm as etcd's does.
@Suite("HTTP endpoints on the client port against real etcd", .serialized, .timeLimit(.minutes(10)))
struct HTTPEndpointTests {
    @Test("--host-whitelist refuses other hosts on a plaintext port with etcd's 421, --cors names only the listed origins, OPTIONS is answered on any path, as by etcd")
    func hostWhitelistAndCORS() async throws {
        let flags = ["--host-whitelist", "allowed.example,127.0.0.1", "--cors", "http://site.example:8080"]
        let etcd = try await ServerProcess.etcd(extraArguments: flags)
        defer { etcd.stop() }
        let etcetera = try await ServerProcess.etcetera(extraArguments: flags)
        defer { etcetera.stop() }
        let requests: [(method: String, path: String, body: String, headers: [(String, String)])] = [
            ("GET", "/health", "", [("Host", "evil.example:2379")]),
            ("POST", "/v3/kv/range", "{\"key\":\"YQ==\"}", [("Host", "evil.example")]),
            ("GET", "/version", "", [("Host", "[::1]:2379")]),
            ("GET", "/health", "", [("Host", "allowed.example:2379")]),
            ("GET", "/health", "", [("Host", "allowed.example"), ("Origin", "http://site.example:8080")]),
            ("GET", "/health", "", [("Origin", "http://other.example")]),
            ("OPTIONS", "/v3/kv/put", "", [("Origin", "http://site.example:8080")]),
            ("OPTIONS", "/health", "", []),
        ]
        for request in requests {
            let expected = try PlainHTTP.request(request.method, request.path, port: etcd.port, body: request.body, headers: request.headers)
            let actual = try PlainHTTP.request(request.method, request.path, port: etcetera.port, body: request.body, headers: request.headers)
            #expect(actual == expected, "\(request.method) \(request.path) \(request.headers)")
        }
        #expect(try PlainHTTP.request("GET", "/health", port: etcetera.port, headers: [("Host", "evil.example")]).status == 421)
    }

    @Test("/health, /version and unknown paths answer as etcd's, also under NOSPACE")
    func healthAndVersion() async throws {
        let etcd = try await ServerProcess.etcd(extraArguments: ["--quota-backend-bytes", "53248"])
        defer { etcd.stop() }
        let etcetera = try await ServerProcess.etcetera(extraArguments: ["--quota-backend-bytes", "53248"])
        defer { etcetera.stop() }
        let requests = [("GET", "/health"), ("GET", "/health?serializable=true"), ("POST", "/health"), ("GET", "/version"), ("GET", "/nope")]
        func compare(_ note: String) throws {
            for (method, path) in requests {
                let expected = try PlainHTTP.request(method, path, port: etcd.port)
                let actual = try PlainHTTP.request(method, path, port: etcetera.port)
                #expect(actual == expected, "\(note): \(method) \(path)")
            }
        }
        try compare("fresh")
        // gRPC keeps working on the same port.
        #expect(try await Etcdctl.run(["put", "a", "b"], endpoint: etcetera.endpoint).stdout == "OK\n")

        let value = String(repeating: "x", count: 1024)
        for server in [etcd, etcetera] {
            for index in 0..<200 where try await Etcdctl.run(["put", "k\(index)", value], endpoint: server.endpoint).status != 0 {
                break
            }
            #expect(try await Etcdctl.run(["alarm", "list"], endpoint: server.endpoint).stdout.contains("alarm:NOSPACE"))
        }
        try compare("under NOSPACE")
        #expect(try PlainHTTP.request("GET", "/health", port: etcetera.port).status == 503)
    }
}
