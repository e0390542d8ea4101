import Foundation
import TestSupport
import Testing

/// etcd's HTTP/JSON gateway (`POST /v3/...`) on the client port: the same requests, as curl would send
/// them, to a fresh real etcd and a fresh Etcetera must get the same status, headers, body and
/// trailers, once the values that must differ (member and cluster ids, timings, tokens, sizes) are
/// masked. Revisions are compared: both servers see the same sequence of writes.
@Suite("HTTP/JSON gateway against real etcd", .serialized, .timeLimit(.minutes(10)))
struct JSONGatewayTests {
    /// A real etcd and an Etcetera that get every request in the same order.
    private struct Pair {
        let etcd: ServerProcess
        let etcetera: ServerProcess

        static func start() async throws -> Pair {
            Pair(etcd: try await ServerProcess.etcd(), etcetera: try await ServerProcess.etcetera())
        }

        func stop() {
            etcd.stop()
            etcetera.stop()
        }

        /// Sends the request to both and expects the same answer; returns Etcetera's.
        @discardableResult
        func expectSame(
            _ path: String, _ body: String = "", method: String = "POST", headers: (ServerProcess) -> [(String, String)] = { _ in [] },
            masking keys: [String] = [], sourceLocation: SourceLocation = #_sourceLocation
        ) throws -> PlainHTTP.Response {
            let expected = try PlainHTTP.request(method, path, port: etcd.port, body: body, headers: headers(etcd))
            let actual = try PlainHTTP.request(method, path, port: etcetera.port, body: body, headers: headers(etcetera))
            #expect(Masked(actual, keys) == Masked(expected, keys), "\(method) \(path) \(body)", sourceLocation: sourceLocation)
            return actual
        }
    }

    /// A response with the values that must differ replaced by `*`. Content-Length follows the ids'
    /// lengths, so only its presence is compared.
    private struct Masked: Equatable, CustomStringConvertible {
        let status: Int
        let headers: [String: String]
        let body: String
        let trailers: [String: String]

        init(_ response: PlainHTTP.Response, _ keys: [String]) {
            status = response.status
            var headers = response.headers
            if headers["content-length"] != nil { headers["content-length"] = "*" }
            self.headers = headers
            body = JSONGatewayTests.mask(response.body, keys: ["cluster_id", "member_id"] + keys)
            trailers = response.trailers
        }

        var description: String { "\(status) \(headers) \(body) \(trailers)" }
    }

    /// Replaces the value of each `"key":` (a string, number or array of strings) with `"*"`, keeping
    /// the text otherwise as it is, so field order and formatting are still compared.
    static func mask(_ text: String, keys: [String]) -> String {
        var masked = text
        for key in keys {
            let pattern = "\"\(NSRegularExpression.escapedPattern(for: key))\":(\\[[^\\]]*\\]|\"[^\"]*\"|-?[0-9]+)"
            let expression = try! NSRegularExpression(pattern: pattern)
            masked = expression.stringByReplacingMatches(
                in: masked, range: NSRange(masked.startIndex..., in: masked), withTemplate: "\"\(key)\":\"*\"")
        }
        return masked
    }

    private static func base64(_ text: String) -> String {
        Data(text.utf8).base64EncodedString()
    }

    @Test("KV calls, /v3beta/, routing and error answers are etcd's")
    func keyValue() async throws {
        let pair = try await Pair.start()
        defer { pair.stop() }
        let foo = Self.base64("foo"), foo1 = Self.base64("foo1"), foo2 = Self.base64("foo2"), fop = Self.base64("fop")
        try pair.expectSame("/v3/kv/put", #"{"key":"\#(foo1)","value":"\#(Self.base64("one"))"}"#)
        try pair.expectSame("/v3beta/kv/put", #"{"key":"\#(foo2)","value":"\#(Self.base64("two"))","prev_kv":true}"#)
        try pair.expectSame("/v3/kv/put", #"{"key":"\#(foo2)","value":"\#(Self.base64("<&>"))","prev_kv":true}"#)
        try pair.expectSame("/v3/kv/range", #"{"key":"\#(foo1)"}"#)
        let prefix = try pair.expectSame("/v3/kv/range", #"{"key":"\#(foo)","range_end":"\#(fop)"}"#)
        #expect(prefix.body.contains(#""count":"2""#))
        try pair.expectSame("/v3/kv/range", #"{"key":"\#(foo)","rangeEnd":"\#(fop)","keys_only":true,"sort_order":"DESCEND","limit":"1"}"#)
        try pair.expectSame("/v3/kv/range", #"{"key":"\#(foo)","range_end":"\#(fop)","count_only":true,"unknown_field":[1,2]}"#)
        // The largest limit reads everything, as etcd's (its limit + 1 wraps to "no limit").
        try pair.expectSame("/v3/kv/range", #"{"key":"\#(foo)","range_end":"\#(fop)","limit":"9223372036854775807"}"#)
        try pair.expectSame("/v3/kv/txn", """
            {"compare":[{"key":"\(foo1)","result":"EQUAL","target":"VALUE","value":"\(Self.base64("one"))"}],\
            "success":[{"request_put":{"key":"\(foo1)","value":"\(Self.base64("uno"))"}},{"request_range":{"key":"\(foo1)"}}],\
            "failure":[{"request_delete_range":{"key":"\(foo1)"}}]}
            """)
        try pair.expectSame("/v3/kv/txn", """
            {"compare":[{"key":"\(foo1)","target":"VERSION","result":"GREATER","version":"5"}],\
            "failure":[{"request_range":{"key":"\(foo)","range_end":"\(fop)"}}]}
            """)
        try pair.expectSame("/v3/kv/deleterange", #"{"key":"\#(foo2)","prev_kv":true}"#)
        try pair.expectSame("/v3/kv/compaction", #"{"revision":"3"}"#)
        // Errors from the store: compacted and future revisions, a repeated compaction, a missing key.
        try pair.expectSame("/v3/kv/range", #"{"key":"\#(foo1)","revision":2}"#)
        try pair.expectSame("/v3/kv/range", #"{"key":"\#(foo1)","revision":"100"}"#)
        try pair.expectSame("/v3/kv/compaction", #"{"revision":"3"}"#)
        try pair.expectSame("/v3/kv/range", "")
        try pair.expectSame("/v3/kv/range", "null")
        try pair.expectSame("/v3/kv/range", "  \n")
        // Bad JSON: Go's scanner messages, status 400, code 3.
        for bad in [
            "{bad", #"{"key":"Zm9v""#, #"{"key":"Zm9v",}"#, "<html>", "[]", "\"text\"", "42", "true",
            #"{"key" "x"}"#, #"{"key":"a\q"}"#, #"{"key":tru}"#, #"{"limit":-}"#, #"{"limit":1.}"#, "{\"key\":\"\u{1}\"}",
            #"{"key":"Zm9v"} trailing is ignored"#,
        ] {
            try pair.expectSame("/v3/kv/range", bad)
        }
        // Routing: unknown paths, other methods, the /v3 redirect, OPTIONS, prefixes etcd does not serve.
        try pair.expectSame("/v3/kv/nope", "{}")
        try pair.expectSame("/v3/", "{}")
        try pair.expectSame("/v3/kv/range/", "{}")
        try pair.expectSame("/v3", "{}")
        try pair.expectSame("/v3//kv/range?x=1", "{}")
        try pair.expectSame("/v3/kv/range", method: "GET")
        try pair.expectSame("/v3/kv/range", method: "OPTIONS")
        try pair.expectSame("/v3alpha/kv/range", #"{"key":"\#(foo1)"}"#)
        try pair.expectSame("/v3/kv/range?ignored=1", #"{"key":"\#(foo1)"}"#)
    }

    @Test("watch streams one {\"result\":…} line per response and stays open")
    func watchStream() async throws {
        let pair = try await Pair.start()
        defer { pair.stop() }
        let key = Self.base64("w")
        try pair.expectSame("/v3/kv/put", #"{"key":"\#(key)","value":"\#(Self.base64("0"))"}"#)
        let create = #"{"create_request":{"key":"\#(key)","prev_kv":true}} {"create_request":{"key":"\#(Self.base64("x"))","start_revision":1}}"#
        let streams = try [pair.etcd, pair.etcetera].map { try PlainHTTP.Stream("POST", "/v3/watch", port: $0.port, body: create) }
        defer { streams.forEach { $0.close() } }
        #expect(streams[1].status == streams[0].status)
        #expect(streams[1].headers == streams[0].headers)
        func expectNextLines(_ count: Int, _ note: String) {
            for _ in 0..<count {
                let expected = streams[0].nextLine().map { Self.mask($0, keys: ["cluster_id", "member_id"]) }
                let actual = streams[1].nextLine().map { Self.mask($0, keys: ["cluster_id", "member_id"]) }
                #expect(expected != nil)
                #expect(actual == expected, "\(note)")
            }
        }
        expectNextLines(2, "created")
        try pair.expectSame("/v3/kv/put", #"{"key":"\#(key)","value":"\#(Self.base64("1"))"}"#)
        expectNextLines(1, "put event")
        try pair.expectSame("/v3/kv/deleterange", #"{"key":"\#(key)"}"#)
        expectNextLines(1, "delete event")
        // The request body has ended, yet the stream stays open for further events.
        #expect(streams[1].nextLine(timeout: 1) == nil)
        try pair.expectSame("/v3/kv/put", #"{"key":"\#(key)","value":"\#(Self.base64("2"))"}"#)
        expectNextLines(1, "event after a quiet second")
        // A bad or cut-short first message fails the whole request (500, code 2).
        try pair.expectSame("/v3/watch", "{bad")
        try pair.expectSame("/v3/watch", #"{"create_request":{"key":"\#(key)"}"#)
    }

    @Test("lease grant, time-to-live, leases, keep-alive and revoke, with etcd's /v3/kv/lease/ aliases")
    func leases() async throws {
        let pair = try await Pair.start()
        defer { pair.stop() }
        try pair.expectSame("/v3/lease/grant", #"{"TTL":60,"ID":7587}"#)
        // etcd lists leases in Go's map order, so the list is compared while it holds one.
        try pair.expectSame("/v3/lease/leases", "")
        try pair.expectSame("/v3/kv/lease/leases", "{}")
        try pair.expectSame("/v3/lease/grant", #"{"TTL":"30","ID":"7588"}"#)
        try pair.expectSame("/v3/kv/put", #"{"key":"\#(Self.base64("l"))","value":"","lease":"7587"}"#)
        try pair.expectSame("/v3/lease/timetolive", #"{"ID":7587,"keys":true}"#, masking: ["TTL"])
        try pair.expectSame("/v3/kv/lease/timetolive", #"{"ID":"7588"}"#, masking: ["TTL"])
        try pair.expectSame("/v3/lease/keepalive", #"{"ID":7587} {"ID":"7588"}"#)
        try pair.expectSame("/v3/lease/keepalive", #"{"ID":1}"#)
        try pair.expectSame("/v3/lease/keepalive", "")
        try pair.expectSame("/v3/lease/keepalive", "{bad")
        try pair.expectSame("/v3/lease/revoke", #"{"ID":7587}"#)
        try pair.expectSame("/v3/kv/lease/revoke", #"{"ID":7587}"#)
        try pair.expectSame("/v3/lease/timetolive", #"{"ID":7587}"#)
        try pair.expectSame("/v3/kv/range", #"{"key":"\#(Self.base64("l"))"}"#)
    }

    @Test("auth over JSON: the token goes in Authorization; maintenance status and member list")
    func authAndMaintenance() async throws {
        let pair = try await Pair.start()
        defer { pair.stop() }
        try pair.expectSame(
            "/v3/maintenance/status", "",
            masking: ["version", "dbSize", "dbSizeInUse", "leader", "raftIndex", "raftAppliedIndex"])
        try pair.expectSame("/v3/cluster/member/list", "{}", masking: ["ID", "peerURLs", "clientURLs"])
        try pair.expectSame("/v3/maintenance/alarm", #"{"action":"GET"}"#)
        for request in [
            ("/v3/auth/user/add", #"{"name":"root","password":"rootpw"}"#),
            ("/v3/auth/role/add", #"{"name":"root"}"#),
            ("/v3/auth/user/grant", #"{"user":"root","role":"root"}"#),
            ("/v3/auth/user/add", #"{"name":"alice","password":"alicepw"}"#),
            ("/v3/auth/role/add", #"{"name":"reader"}"#),
            ("/v3/auth/role/grant", #"{"name":"reader","perm":{"permType":"READ","key":"\#(Self.base64("a"))"}}"#),
            ("/v3/auth/user/grant", #"{"user":"alice","role":"reader"}"#),
            ("/v3/auth/role/get", #"{"role":"reader"}"#),
            ("/v3/auth/user/list", "{}"),
            ("/v3/auth/enable", "{}"),
            ("/v3/auth/authenticate", #"{"name":"root","password":"wrong"}"#),
        ] {
            try pair.expectSame(request.0, request.1)
        }
        var tokens: [Int: [String: String]] = [:]
        for server in [pair.etcd, pair.etcetera] {
            for user in ["root", "alice"] {
                let answer = try PlainHTTP.request(
                    "POST", "/v3/auth/authenticate", port: server.port, body: #"{"name":"\#(user)","password":"\#(user)pw"}"#)
                let json = try #require(JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any])
                tokens[server.port, default: [:]][user] = try #require(json["token"] as? String)
            }
        }
        func token(_ user: String) -> (ServerProcess) -> [(String, String)] {
            { server in [("Authorization", tokens[server.port]?[user] ?? "")] }
        }
        let read = #"{"key":"\#(Self.base64("a"))"}"#
        try pair.expectSame("/v3/kv/range", read)
        try pair.expectSame("/v3/kv/range", read, headers: token("root"))
        try pair.expectSame("/v3/kv/range", read, headers: token("alice"))
        try pair.expectSame("/v3/kv/put", #"{"key":"\#(Self.base64("a"))","value":""}"#, headers: token("alice"))
        try pair.expectSame("/v3/auth/user/list", "{}", headers: token("alice"))
        try pair.expectSame("/v3/auth/user/get", #"{"name":"alice"}"#, headers: token("alice"))
        try pair.expectSame("/v3/kv/range", read, headers: { server in [("Grpc-Metadata-Token", tokens[server.port]?["root"] ?? "")] })
        try pair.expectSame("/v3/kv/range", read, headers: { server in [("Authorization", "Bearer " + (tokens[server.port]?["root"] ?? ""))] })
        try pair.expectSame("/v3/auth/disable", "{}", headers: token("root"))
        try pair.expectSame("/v3/kv/range", read)
    }
}
