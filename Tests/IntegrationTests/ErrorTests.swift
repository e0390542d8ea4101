import Bus
import EtceteraAPI
import Foundation
import GRPCCore
import Logging
import TestSupport
import Testing

/// etcd's exact status codes and messages for bad requests, and robustness against garbage.
@Suite("Errors and bad input", .timeLimit(.minutes(10)))
struct ErrorTests {
    @Test("empty key, oversized request, too many ops, compacted and future revisions")
    func etcdErrors() async throws {
        let etcetera = try await ServerProcess.etcetera()
        defer { etcetera.stop() }
        try await withEtcdClient(port: etcetera.port) { client in
            func expectError(_ code: RPCError.Code, _ message: String, _ call: () async throws -> Void) async {
                do {
                    try await call()
                    Issue.record("expected \(code): \(message)")
                } catch let error as RPCError {
                    #expect(error.code == code)
                    #expect(error.message == message)
                } catch {
                    Issue.record("unexpected \(error)")
                }
            }
            await expectError(.invalidArgument, "etcdserver: key is not provided") {
                _ = try await client.kv.put(Build.put("", "v"))
            }
            await expectError(.invalidArgument, "etcdserver: key is not provided") {
                _ = try await client.kv.range(Build.get(""))
            }
            await expectError(.invalidArgument, "etcdserver: request is too large") {
                _ = try await client.kv.put(Build.put("big", String(repeating: "x", count: 1_600_000)))
            }
            _ = try await client.kv.put(Build.put("almost", String(repeating: "x", count: 1_500_000)))
            await expectError(.invalidArgument, "etcdserver: too many operations in txn request") {
                _ = try await client.kv.txn(Build.txn([], success: (0..<129).map { Build.op(Build.put("k\($0)", "v")) }))
            }
            await expectError(.invalidArgument, "etcdserver: duplicate key given in txn request") {
                _ = try await client.kv.txn(Build.txn([], success: [Build.op(Build.put("k", "1")), Build.op(Build.put("k", "2"))]))
            }
            for index in 0..<5 { _ = try await client.kv.put(Build.put("r", "\(index)")) }
            _ = try await client.kv.compact(Build.compact(4))
            await expectError(.outOfRange, "etcdserver: mvcc: required revision has been compacted") {
                _ = try await client.kv.range(Build.get("r", revision: 3))
            }
            await expectError(.outOfRange, "etcdserver: mvcc: required revision is a future revision") {
                _ = try await client.kv.range(Build.get("r", revision: 1000))
            }
        }
    }

    @Test("garbage on the kv service's bus endpoint gets an error reply and the service keeps serving")
    func busGarbage() async throws {
        let etcetera = try await ServerProcess.etcetera()
        defer { etcetera.stop() }
        let bus = try BusClient(connect: "ipc://\(etcetera.dataDirectory)/bus/kv.sock", logger: Logger(label: "test"))
        defer { bus.close() }
        for garbage: [UInt8] in [[0xFF, 0xFF, 0xFF], Array(repeating: 0x0A, count: 64), []] {
            let replyBytes = try await bus.request(garbage, timeout: .seconds(5))
            let reply = try Etcetera_Kv_KVReply(serializedBytes: replyBytes)
            guard case .error(let error) = reply.reply else {
                Issue.record("garbage \(garbage.prefix(4)) got \(reply)")
                continue
            }
            #expect(error.code == "bus.malformed_request")
        }
        let put = try await withEtcdClient(port: etcetera.port) { client in
            try await client.kv.put(Build.put("still", "alive"))
        }
        #expect(put.header.revision == 2)
    }
}
