import EtceteraAPI
import Foundation
import FuzzSupport
import GRPCWire
import Lease
import MVCC
import NIOCore
import Storage
import SwiftProtobuf

/// libFuzzer target: a gRPC call's DATA as the gateway reads it, decoded as the request of one of etcd's
/// methods and, for the methods that reach the store, handed to the same entry points the kv and lease
/// services use (`MVCCStore.range`, `readOnlyTxn`, `write`, `alarm`, `hashKV`; `Lessor`) on an in-memory
/// store, so each request passes the production validation (`RequestValidation`, the lessor's checks).
///
/// Input: byte 0 chooses the method (``methods``), byte 1 the size of the DATA frames a streaming call's
/// bytes arrive in; the rest is the call's DATA (5-byte gRPC prefix, message, ...). Unary bodies are read
/// with `GRPCFraming.singleMessage`, streams with `MessageAssembler`, as `GRPCConnectionHandler` reads them.
@main
enum FuzzerEntry {
    static func main() { runLibFuzzer(testOneInput) }
}

@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    guard size >= 2 else { return 0 }
    let input = UnsafeBufferPointer(start: data, count: size)
    let method = methods[Int(input[0]) % methods.count]
    let body = ByteBuffer(bytes: input.dropFirst(2))
    let target = Target.current()
    if method.streaming {
        var assembler = MessageAssembler()
        var rest = body
        let frameSize = Int(input[1]) + 1
        while rest.readableBytes > 0, var frame = rest.readSlice(length: min(frameSize, rest.readableBytes)) {
            assembler.append(&frame)
            while let message = try? assembler.next(maxMessageBytes: maxMessageBytes) {
                method.handle(message, target)
            }
        }
    } else if case .success(let message) = GRPCFraming.singleMessage(in: body) {
        method.handle(message, target)
    }
    return 0
}

/// The gateway's default limit on one received message (etcd's request limit plus gRPC's overhead).
private let maxMessageBytes = 2 * 1024 * 1024

/// A store and a lessor on in-memory storage, made afresh every ``Target/lifetime`` inputs so that
/// history, leases and alarms (a CORRUPT alarm refuses everything after it) do not pile up.
private final class Target: @unchecked Sendable {
    let store: MVCCStore
    let lessor: Lessor
    private var inputs = 0
    private static let lifetime = 2000
    nonisolated(unsafe) private static var shared: Target?

    private init() {
        do {
            var configuration = MVCCStore.Configuration()
            configuration.syncWrites = false
            store = try MVCCStore(storage: InMemoryStorage(), configuration: configuration)
            lessor = try Lessor(
                storage: InMemoryStorage(), idGenerator: LeaseIDGenerator(memberID: 1, startMilliseconds: 1), now: .now)
        } catch {
            fatalError("cannot open an in-memory store: \(error)")
        }
    }

    static func current() -> Target {
        if let target = shared, target.inputs < lifetime {
            target.inputs += 1
            return target
        }
        shared?.store.close()
        let target = Target()
        shared = target
        return target
    }

    /// Applies one write as the kv service's batch commit does, and waits for its completion.
    func write(_ request: WriteRequest) {
        let done = DispatchSemaphore(value: 0)
        let physical: Bool
        if case .compact(let compaction) = request { physical = compaction.physical } else { physical = false }
        store.write([PendingWrite(request) { _ in done.signal() }])
        // A physical compaction completes once the compacted history is gone, on the store's own time.
        if !physical { done.wait() }
    }
}

/// One of etcd's methods: how its request decodes and where it goes.
private struct Method: Sendable {
    let streaming: Bool
    let handle: @Sendable (_ message: [UInt8], _ target: Target) -> Void

    /// A request that only decodes here: its service does not reach the store.
    static func decodes<Request: SwiftProtobuf.Message>(_ type: Request.Type, streaming: Bool = false) -> Method {
        Method(streaming: streaming) { message, _ in _ = try? Request(serializedBytes: message) }
    }

    static func handles<Request: SwiftProtobuf.Message>(
        _ type: Request.Type, streaming: Bool = false, _ body: @escaping @Sendable (Request, Target) -> Void
    ) -> Method {
        Method(streaming: streaming) { message, target in
            guard let request = try? Request(serializedBytes: message) else { return }
            body(request, target)
        }
    }
}

/// Every request of etcd's API (rpc.proto), in its order.
private let methods: [Method] = [
    // KV: as the kv service hands them to the store.
    .handles(Etcdserverpb_RangeRequest.self) { request, target in _ = try? target.store.range(request) },
    .handles(Etcdserverpb_PutRequest.self) { request, target in target.write(.put(request)) },
    .handles(Etcdserverpb_DeleteRangeRequest.self) { request, target in target.write(.deleteRange(request)) },
    .handles(Etcdserverpb_TxnRequest.self) { request, target in
        if request.isReadOnly { _ = try? target.store.readOnlyTxn(request) } else { target.write(.txn(request)) }
    },
    .handles(Etcdserverpb_CompactionRequest.self) { request, target in target.write(.compact(request)) },
    // Lease: the lessor decides, the store keeps the leases its puts may name.
    .handles(Etcdserverpb_LeaseGrantRequest.self) { request, target in
        guard let lease = try? target.lessor.grant(id: request.id, ttl: request.ttl, now: .now) else { return }
        target.write(.registerLeases([(lease.id, lease.grantedTTL)]))
    },
    .handles(Etcdserverpb_LeaseRevokeRequest.self) { request, target in
        guard (try? target.lessor.beginRevoke(request.id)) != nil else { return }
        target.write(.revokeLease(request.id))
        try? target.lessor.finishRevoke(request.id)
    },
    .handles(Etcdserverpb_LeaseKeepAliveRequest.self, streaming: true) { request, target in
        _ = try? target.lessor.renew(request.id, now: .now)
    },
    .handles(Etcdserverpb_LeaseTimeToLiveRequest.self) { request, target in
        guard (try? target.lessor.timeToLive(request.id, now: .now)) != nil, request.keys else { return }
        _ = try? target.store.leaseKeys(request.id)
    },
    .handles(Etcdserverpb_LeaseLeasesRequest.self) { _, target in _ = target.lessor.leaseIDs },
    // Watch: the watch service reads history from the store from the start revision on.
    .handles(Etcdserverpb_WatchRequest.self, streaming: true) { request, target in
        guard case .createRequest(let create) = request.requestUnion, create.startRevision != 0 else { return }
        _ = try? target.store.events(from: create.startRevision)
    },
    // Cluster.
    .decodes(Etcdserverpb_MemberAddRequest.self),
    .decodes(Etcdserverpb_MemberRemoveRequest.self),
    .decodes(Etcdserverpb_MemberUpdateRequest.self),
    .decodes(Etcdserverpb_MemberListRequest.self),
    .decodes(Etcdserverpb_MemberPromoteRequest.self),
    // Maintenance: alarms and hashes are the store's.
    .handles(Etcdserverpb_AlarmRequest.self) { request, target in _ = try? target.store.alarm(request) },
    .handles(Etcdserverpb_StatusRequest.self) { _, target in _ = target.store.status() },
    .decodes(Etcdserverpb_DefragmentRequest.self),
    .handles(Etcdserverpb_HashRequest.self) { _, target in _ = target.store.hash() },
    .handles(Etcdserverpb_HashKVRequest.self) { request, target in _ = try? target.store.hashKV(revision: request.revision) },
    .decodes(Etcdserverpb_SnapshotRequest.self),
    .decodes(Etcdserverpb_MoveLeaderRequest.self),
    // Auth: decoded by the gateway and the auth service.
    .decodes(Etcdserverpb_AuthEnableRequest.self),
    .decodes(Etcdserverpb_AuthDisableRequest.self),
    .decodes(Etcdserverpb_AuthenticateRequest.self),
    .decodes(Etcdserverpb_AuthUserAddRequest.self),
    .decodes(Etcdserverpb_AuthUserGetRequest.self),
    .decodes(Etcdserverpb_AuthUserListRequest.self),
    .decodes(Etcdserverpb_AuthUserDeleteRequest.self),
    .decodes(Etcdserverpb_AuthUserChangePasswordRequest.self),
    .decodes(Etcdserverpb_AuthUserGrantRoleRequest.self),
    .decodes(Etcdserverpb_AuthUserRevokeRoleRequest.self),
    .decodes(Etcdserverpb_AuthRoleAddRequest.self),
    .decodes(Etcdserverpb_AuthRoleGetRequest.self),
    .decodes(Etcdserverpb_AuthRoleListRequest.self),
    .decodes(Etcdserverpb_AuthRoleDeleteRequest.self),
    .decodes(Etcdserverpb_AuthRoleGrantPermissionRequest.self),
    .decodes(Etcdserverpb_AuthRoleRevokePermissionRequest.self),
]
