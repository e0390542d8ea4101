import Foundation
import TestSupport
import Testing

/// The client port's HTTP/1.1 side, next to gRPC on the same port: `/health` and `/version` answer
/// what etcd answers, headers included, and `/health` turns false under an alarm as etcd's does.
@Suite("HTTP endpoints on the client port against real etcd", .serialized, .timeLimit(.minutes(10)))
struct HTTPEndpointTests {
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
