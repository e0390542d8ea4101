import EtceteraAPI
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import SwiftProtobuf
import TestSupport
import Testing

/// Every field of every etcd request set to an extreme (see `RequestSweep`), sent to a real etcd 3.4 and
/// to Etcetera: both must answer with the same status and message (or the same response where it does
/// not depend on the member), and no Etcetera service may exit on the way.
@Suite("Request sweep against real etcd", .serialized)
struct RequestSweepTests {
    /// etcd's default `--max-request-bytes`, on both servers.
    private static let requestLimit = 1_572_864
    /// How long a stream may stay silent before the sweep records "no answer" (a watch cancel of an
    /// unknown id gets none from either server).
    private static let streamWait: Duration = .seconds(3)
    /// How often a request answered Unavailable is sent.
    private static let attempts = 4

    /// The requests real etcd 3.4.23 panics on. They are not sent to etcd; Etcetera must refuse each
    /// with InvalidArgument and stay up. Listed in docs/compatibility.md.
    private static let etcdPanics: [(why: String, matches: @Sendable (RequestSweep.Case) -> Bool)] = [
        // The applier returns no response for an action it does not know, and the server then asserts the
        // missing response's type.
        ("Alarm with an undefined action", { $0.field == "etcdserverpb.AlarmRequest.action" && $0.value.isUndefinedEnum }),
        // etcd turns an unset sort order into ascending for any target but the key, and then sorts with no
        // sorter for a target it does not know (in a txn too).
        ("Range with an undefined sort target", { $0.field == "etcdserverpb.RangeRequest.sort_target" && $0.value.isUndefinedEnum }),
        // A user or role name is a key in bbolt, which panics on keys over 32 KiB; the entry stays in the
        // raft log, so etcd panics again on every restart.
        ("UserAdd with a 64 KiB name", { $0.field == "etcdserverpb.AuthUserAddRequest.name" && $0.value == longName }),
        ("RoleAdd with a 64 KiB name", { $0.field == "etcdserverpb.AuthRoleAddRequest.name" && $0.value == longName }),
    ]
    private static let longName = RequestSweep.Value.filler(64 * 1024)

    /// Where Etcetera answers differently from etcd 3.4.23 on purpose (listed in docs/compatibility.md):
    /// the answers are not compared, and no service may exit over them.
    private static let knownDifferences: [(why: String, matches: @Sendable (RequestSweep.Case) -> Bool)] = [
        // etcd's Go decoder tells an empty range_end present on the wire from an absent one, and a Range
        // (served without raft) reads every key from `key` on for it. Clients omit empty bytes; Etcetera,
        // decoding proto3 as proto3, reads the single key.
        ("an empty range_end present on the wire", { $0.field == "etcdserverpb.RangeRequest.range_end" && $0.value == .empty }),
        // crypt(3) would end the password at the NUL; Etcetera refuses it instead (docs/auth.md).
        ("a password with a NUL character", {
            ["etcdserverpb.AuthUserAddRequest.password", "etcdserverpb.AuthUserChangePasswordRequest.password"].contains($0.field)
                && $0.value == .nul
        }),
    ]

    @Test("every integer, enum and bytes field of every request at its extremes", .timeLimit(.minutes(10)))
    func sweep() async throws {
        guard let url = Bundle.module.url(forResource: "etcd-api", withExtension: "protoset") else {
            throw TestFailure("the descriptor set of etcd's API is not among the test's resources")
        }
        let sweep = try RequestSweep(descriptorSet: try Data(contentsOf: url), requestLimit: Self.requestLimit)
        var unaryCases: [RequestSweep.Case] = []
        var streamCases: [RequestSweep.Case] = []
        for method in sweep.methods {
            let cases = try sweep.cases(of: method)
            if method.clientStreaming || method.serverStreaming { streamCases += cases } else { unaryCases += cases }
        }
        for (method, field) in [("UserAdd", "name"), ("RoleAdd", "name")] {
            guard let found = sweep.methods.first(where: { $0.name == method }) else { throw TestFailure("no \(method)") }
            unaryCases.append(try sweep.single(found, field: field, Self.longName))
        }
        let unary = unaryCases, streams = streamCases
        let preparation: [[UInt8]] = try ["foo", "foo1", "fop"].map { key in
            var put = Etcdserverpb_PutRequest()
            put.key = Data(key.utf8)
            put.value = Data("v-\(key)".utf8)
            return try put.serializedBytes()
        }

        let etcd = try await ServerProcess.etcd()
        defer { etcd.stop() }
        let etcetera = try await ServerProcess.etcetera()
        defer { etcetera.stop() }

        func answers(port: Int, sendingPanics: Bool) async throws -> [String] {
            try await Self.withConnection(port: port) { call in
                for put in preparation {
                    guard case .response = await call.unary(service: "etcdserverpb.KV", method: "Put", put) else {
                        throw TestFailure("preparing the store on \(port) failed")
                    }
                }
                var answers: [String] = []
                for sweepCase in unary {
                    if !sendingPanics, Self.etcdPanic(sweepCase) != nil {
                        answers.append("")
                        continue
                    }
                    // Each request on a connection of its own: grpc-swift's client and etcd's server drop a
                    // long-lived connection now and then under this traffic, failing the call in flight.
                    // Unavailable is retried, as clients retry it: on a loaded machine a service can miss
                    // its bus heartbeats for a moment.
                    var outcome = RawCall<HTTP2ClientTransport.Posix>.Outcome.silent
                    for attempt in 1...Self.attempts {
                        outcome = try await Self.withConnection(port: port) { call in
                            await call.unary(service: sweepCase.method.service, method: sweepCase.method.name, sweepCase.request)
                        }
                        guard case .failed(.unavailable, _) = outcome, attempt < Self.attempts else { break }
                        try await Task.sleep(for: .seconds(1))
                    }
                    answers.append(Self.render(outcome, of: sweepCase.method.name))
                }
                // Streams change nothing, so they run side by side.
                let streamAnswers = await withTaskGroup(of: (Int, String).self) { group in
                    for (index, sweepCase) in streams.enumerated() {
                        group.addTask {
                            let outcome = await call.firstOfStream(
                                service: sweepCase.method.service, method: sweepCase.method.name, sweepCase.request,
                                holdingOpen: sweepCase.method.clientStreaming, waiting: Self.streamWait)
                            return (index, Self.render(outcome, of: sweepCase.method.name))
                        }
                    }
                    var answers = [String](repeating: "", count: streams.count)
                    for await (index, answer) in group { answers[index] = answer }
                    return answers
                }
                return answers + streamAnswers
            }
        }
        let etcdPort = etcd.port, etceteraPort = etcetera.port
        async let expected = answers(port: etcdPort, sendingPanics: false)
        async let actual = answers(port: etceteraPort, sendingPanics: true)
        let (etcdAnswers, etceteraAnswers) = try await (expected, actual)

        var mismatches = 0
        for (index, sweepCase) in (unary + streams).enumerated() {
            let answer = etceteraAnswers[index]
            if let why = Self.etcdPanic(sweepCase) {
                if !answer.hasPrefix("error \(RPCError.Code.invalidArgument):") {
                    mismatches += 1
                    Issue.record("\(sweepCase) (etcd panics: \(why)): etcetera answered \(answer.prefix(300))")
                }
                continue
            }
            guard answer != etcdAnswers[index], !Self.knownDifferences.contains(where: { $0.matches(sweepCase) }) else { continue }
            mismatches += 1
            if mismatches <= 40 {
                Issue.record("""
                    \(sweepCase)
                    etcd:     \(etcdAnswers[index].prefix(300))
                    etcetera: \(answer.prefix(300))
                    """)
            }
        }
        #expect(mismatches == 0, "\(unary.count) unary and \(streams.count) stream requests compared")
        #expect(etcd.process.isRunning, "etcd exited during the sweep:\n\(etcd.log.suffix(2000))")
        let exits = etcetera.log.split(separator: "\n").filter { $0.contains(" exited (") }
        #expect(exits.isEmpty, "Etcetera services exited: \(exits)")
    }

    @Test("the largest limit from etcdctl, txns nested to and past etcd's depth, a 3 MiB request", .timeLimit(.minutes(5)))
    func extremes() async throws {
        let etcd = try await ServerProcess.etcd()
        defer { etcd.stop() }
        let etcetera = try await ServerProcess.etcetera()
        defer { etcetera.stop() }
        for server in [etcd, etcetera] {
            for key in ["foo", "foo1"] { _ = try await Etcdctl.run(["put", key, "bar"], endpoint: server.endpoint) }
        }
        for arguments in [["get", "foo", "--limit", "9223372036854775807"], ["get", "foo", "--prefix", "--limit", "9223372036854775807"]] {
            let expected = try await Etcdctl.run(arguments, endpoint: etcd.endpoint)
            let actual = try await Etcdctl.run(arguments, endpoint: etcetera.endpoint)
            #expect(actual.stdout == expected.stdout && actual.stderr == expected.stderr && !actual.stdout.isEmpty, "etcdctl \(arguments)")
        }

        // A chain of txns, each the one op of the one before; the innermost puts a key or is empty. At
        // --max-txn-ops 128, etcd runs 129 levels (the last empty) and refuses anything deeper.
        // Wrapped level by level as bytes: the generated types would recurse as deep as the chain.
        func chain(_ levels: Int, innermostPut: Bool) throws -> [UInt8] {
            var innermost = Etcdserverpb_TxnRequest()
            if innermostPut { innermost.success = [Build.op(Build.put("deep\(levels)", "v"))] }
            var bytes: [UInt8] = try innermost.serializedBytes()
            for _ in 1..<levels {
                var op = WireMessage()
                op.set(4, .bytes(bytes))  // RequestOp.request_txn
                var txn = WireMessage()
                txn.set(2, .bytes(op.encoded))  // TxnRequest.success
                bytes = txn.encoded
            }
            return bytes
        }
        var bigPut = Etcdserverpb_PutRequest()
        bigPut.key = Data("big".utf8)
        bigPut.value = Data(repeating: UInt8(ascii: "x"), count: 3 << 20)
        let requests: [(name: String, method: String, bytes: [UInt8])] = [
            ("txn nested 50 deep", "Txn", try chain(50, innermostPut: true)),
            ("txn nested 128 deep", "Txn", try chain(128, innermostPut: true)),
            ("txn nested 129 deep", "Txn", try chain(129, innermostPut: false)),
            ("txn nested 129 deep with a put", "Txn", try chain(129, innermostPut: true)),
            ("txn nested 140 deep", "Txn", try chain(140, innermostPut: false)),
            ("txn nested 2000 deep", "Txn", try chain(2000, innermostPut: false)),
            ("3 MiB put", "Put", try bigPut.serializedBytes()),
        ]
        func answers(_ server: ServerProcess) async throws -> [String] {
            try await Self.withConnection(port: server.port) { call in
                var answers: [String] = []
                for request in requests {
                    let outcome = await call.unary(service: "etcdserverpb.KV", method: request.method, request.bytes)
                    answers.append(Self.render(outcome, of: request.method))
                }
                return answers
            }
        }
        let expected = try await answers(etcd)
        let actual = try await answers(etcetera)
        for (index, request) in requests.enumerated() {
            #expect(actual[index] == expected[index], "\(request.name)\netcd:     \(expected[index].prefix(300))\netcetera: \(actual[index].prefix(300))")
        }
        let exits = etcetera.log.split(separator: "\n").filter { $0.contains(" exited (") }
        #expect(exits.isEmpty, "Etcetera services exited: \(exits)")
    }

    private static func withConnection<Result: Sendable>(
        port: Int, _ body: @Sendable (RawCall<HTTP2ClientTransport.Posix>) async throws -> Result
    ) async throws -> Result {
        try await withGRPCClient(
            transport: .http2NIOPosix(target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext)
        ) { client in
            try await body(RawCall(client: client))
        }
    }

    private static func etcdPanic(_ sweepCase: RequestSweep.Case) -> String? {
        etcdPanics.first { $0.matches(sweepCase) }?.why
    }

    /// An answer as compared: the status of a failure, or the response where it is the same on every
    /// member of every cluster (its header's cluster, member and term cleared), else only that it succeeded.
    private static func render(_ outcome: RawCall<HTTP2ClientTransport.Posix>.Outcome, of method: String) -> String {
        switch outcome {
        case .failed(let code, let message):
            return "error \(code): \(message)"
        case .ended:
            return "ended without a response"
        case .silent:
            return "no answer"
        case .response(let bytes):
            guard let text = comparableResponses[method] else { return "ok" }
            do {
                return "ok " + (try text(bytes))
            } catch {
                return "undecodable response \(bytes.prefix(32))"
            }
        }
    }

    private static func text<Response: SwiftProtobuf.Message>(
        _ type: Response.Type, header: WritableKeyPath<Response, Etcdserverpb_ResponseHeader> & Sendable
    ) -> @Sendable ([UInt8]) throws -> String {
        { bytes in
            var response = try Response(serializedBytes: bytes, options: MessageDepth.binaryDecodingOptions)
            response[keyPath: header].clearMemberFields()
            return response.textFormatString()
        }
    }

    private static let comparableResponses: [String: @Sendable ([UInt8]) throws -> String] = [
        "Range": text(Etcdserverpb_RangeResponse.self, header: \.header),
        "Put": text(Etcdserverpb_PutResponse.self, header: \.header),
        "DeleteRange": text(Etcdserverpb_DeleteRangeResponse.self, header: \.header),
        "Txn": text(Etcdserverpb_TxnResponse.self, header: \.header),
        "Compact": text(Etcdserverpb_CompactionResponse.self, header: \.header),
        "Watch": text(Etcdserverpb_WatchResponse.self, header: \.header),
        "LeaseRevoke": text(Etcdserverpb_LeaseRevokeResponse.self, header: \.header),
        "LeaseKeepAlive": text(Etcdserverpb_LeaseKeepAliveResponse.self, header: \.header),
    ]
}

extension RequestSweep.Value {
    var isUndefinedEnum: Bool {
        if case .undefinedEnum = self { return true }
        return false
    }
}
