import EtceteraAPI
import Foundation

/// Request sequences that exercise the whole KV API, for comparing Etcetera with real etcd.
enum KVScenarios {
    /// Every option of Range, Put, DeleteRange, Txn and Compact, including their errors.
    static var scripted: [KVCall] {
        var calls: [KVCall] = []
        for (key, value) in [("a", "1"), ("b", "2"), ("b/1", "x"), ("b/2", "y"), ("c", "3"), ("d", "4"), ("e\u{0}z", "nul")] {
            calls.append(.put(Build.put(key, value)))
        }
        calls += [
            .put(Build.put("a", "1-again") { $0.prevKv = true }),
            .put(Build.put("fresh", "v") { $0.prevKv = true }),
            .range(Build.get("a")),
            .range(Build.get("missing")),
            .range(Build.get("b", "c")),
            .range(Build.get("b/", "b0")),
            .range(Build.get("b", "\u{0}")),
            .range(Build.get("\u{0}", "\u{0}")),
            .range(Build.get("c", "a")),
            .range(Build.get("a", "z", limit: 2)),
            .range(Build.get("a", "z", limit: 100)),
            .range(Build.get("a", "z") { $0.countOnly = true }),
            .range(Build.get("a", "z", limit: 1) { $0.countOnly = true }),
            .range(Build.get("a", "z") { $0.keysOnly = true }),
            .range(Build.get("a", "z", revision: 3)),
            .range(Build.get("a", "z", revision: 1)),
            .range(Build.get("a", revision: 2)),
            .range(Build.get("a", revision: 100)),
            .range(Build.get("a", revision: -1)),
            .range(Build.get("", "z")),
            .range(Build.get("a", "z") { $0.serializable = true }),
        ]
        for target in [Etcdserverpb_RangeRequest.SortTarget.key, .version, .create, .mod, .value] {
            for order in [Etcdserverpb_RangeRequest.SortOrder.none, .ascend, .descend] {
                calls.append(.range(Build.get("a", "z", limit: 3) { $0.sortTarget = target; $0.sortOrder = order }))
            }
        }
        calls += [
            .range(Build.get("a", "z") { $0.minModRevision = 4 }),
            .range(Build.get("a", "z") { $0.maxModRevision = 4 }),
            .range(Build.get("a", "z") { $0.minCreateRevision = 3; $0.maxCreateRevision = 6 }),
            .range(Build.get("a", "z", limit: 1) { $0.minCreateRevision = 3 }),
            .put(Build.put("a", "") { $0.ignoreValue = true }),
            .put(Build.put("a", "") { $0.ignoreLease = true }),
            .put(Build.put("nope", "") { $0.ignoreValue = true }),
            .put(Build.put("a", "v") { $0.ignoreValue = true }),
            .put(Build.put("a", "v") { $0.ignoreLease = true; $0.lease = 5 }),
            .put(Build.put("a", "v") { $0.lease = 0x7E57 }),
            .put(Build.put("nope", "") { $0.ignoreValue = true; $0.lease = 0x7E57 }),
            .txn(Build.txn([], success: [Build.op(Build.put("t", "v") { $0.lease = 0x7E57 })])),
            .put(Build.put("", "v")),
            .range(Build.get("")),
            .delete(Build.delete("")),
            .delete(Build.delete("d", prevKv: true)),
            .delete(Build.delete("d")),
            .delete(Build.delete("b/", "b0", prevKv: true)),
            .delete(Build.delete("zz", "\u{0}")),
            .range(Build.get("b/", "b0", revision: 10)),
        ]
        // Txns: each compare target and result, ranges over range_end, both branches, nesting.
        calls += [
            .txn(Build.txn([Build.compare("a", .value, .equal, value: "1-again")],
                           success: [Build.op(Build.put("t1", "yes")), Build.op(Build.get("t1"))],
                           failure: [Build.op(Build.get("a"))])),
            .txn(Build.txn([Build.compare("a", .value, .equal, value: "other")],
                           success: [Build.op(Build.put("t2", "yes"))],
                           failure: [Build.op(Build.get("a")), Build.op(Build.get("t2"))])),
            .txn(Build.txn([Build.compare("a", .version, .greater, 1)], success: [Build.op(Build.put("t3", "v"))])),
            .txn(Build.txn([Build.compare("a", .create, .less, 3)], success: [Build.op(Build.put("t4", "v"))])),
            .txn(Build.txn([Build.compare("a", .mod, .notEqual, 0)], success: [Build.op(Build.delete("t4", prevKv: true))])),
            .txn(Build.txn([Build.compare("a", .lease, .equal, 0)], success: [Build.op(Build.get("t", "u"))])),
            .txn(Build.txn([Build.compare("missing", .value, .notEqual, value: "x")], success: [], failure: [Build.op(Build.get("a"))])),
            .txn(Build.txn([Build.compare("missing", .version, .equal, 0)], success: [Build.op(Build.put("m", "v"))])),
            .txn(Build.txn([Build.compare("t", .version, .equal, 1, end: "u")], success: [Build.op(Build.put("all-v1", "yes"))])),
            .txn(Build.txn([Build.compare("t", .mod, .greater, 0, end: "\u{0}")], success: [Build.op(Build.put("from-t", "yes"))])),
            .txn(Build.txn([], success: [])),
            .txn(Build.txn([], success: [Build.op(Build.delete("nothing-here"))])),
            .txn(Build.txn([], success: [Build.op(Build.put("n1", "a")),
                                          Build.op(Build.txn([Build.compare("n1", .version, .equal, 0)],
                                                             success: [Build.op(Build.put("n2", "inner-success"))],
                                                             failure: [Build.op(Build.put("n3", "inner-failure"))])),
                                          Build.op(Build.get("n", "o"))])),
            .txn(Build.txn([], success: [Build.op(Build.put("dup", "1")), Build.op(Build.put("dup", "2"))])),
            .txn(Build.txn([], success: [Build.op(Build.delete("a", "z")), Build.op(Build.put("q", "2"))])),
            .txn(Build.txn([], success: [Build.op(Build.delete("a", "\u{0}")), Build.op(Build.put("q", "2"))])),
            .txn(Build.txn([], success: [Build.op(Build.put("x", "1")),
                                          Build.op(Build.txn([], success: [Build.op(Build.put("x", "2"))]))])),
            .txn(Build.txn([], success: [Build.op(Build.txn([], success: [Build.op(Build.put("y", "1"))], failure: [Build.op(Build.put("y", "2"))])),
                                          Build.op(Build.get("y"))])),
            .txn(Build.txn([Build.compare("", .value, .equal, value: "x")], success: [])),
            .txn(Build.txn([], success: [Build.op(Build.get(""))])),
            .txn(Build.txn([], success: [Etcdserverpb_RequestOp()])),
            .txn(Build.txn([], success: (0..<129).map { Build.op(Build.put("k\($0)", "v")) })),
            .txn(Build.txn([], success: (0..<128).map { Build.op(Build.put("k\($0)", "v")) })),
            .txn(Build.txn((0..<129).map { _ in Build.compare("a", .version, .greater, 0) }, success: [])),
            .txn(Build.txn([], success: [Build.op(Build.get("a", revision: 1000))])),
            .txn(Build.txn([], success: [Build.op(Build.put("w", "1")), Build.op(Build.get("a", revision: 5))])),
            .txn(Build.txn([], success: [Build.op(Build.put("nope", "") { $0.ignoreValue = true })])),
            .txn(Build.txn([], success: [Build.op(Build.put("p", "1")), Build.op(Build.get("p")), Build.op(Build.delete("p")), Build.op(Build.get("p"))])),
        ]
        // Compaction and what it does to history.
        calls += [
            .compact(Build.compact(1000)),
            .compact(Build.compact(5)),
            .range(Build.get("a", "z", revision: 4)),
            .range(Build.get("a", "z", revision: 5)),
            .compact(Build.compact(5)),
            .compact(Build.compact(3)),
            .compact(Build.compact(12, physical: true)),
            .range(Build.get("a", "z", revision: 12)),
            .txn(Build.txn([], success: [Build.op(Build.get("a", revision: 6))])),
            .range(Build.get("a", "\u{0}") { $0.countOnly = true }),
        ]
        // Writes along one path of nested txns: a nested txn's puts meet the deletes before it only, the
        // branch's own puts every delete; reversed ranges and range ends cover nothing.
        func nested(_ then: [Etcdserverpb_RequestOp], _ otherwise: [Etcdserverpb_RequestOp] = []) -> Etcdserverpb_RequestOp {
            Build.op(Build.txn([], success: then, failure: otherwise))
        }
        calls += [
            .txn(Build.txn([], success: [nested([Build.op(Build.put("o1", "v"))]), nested([Build.op(Build.delete("o", "p"))])])),
            .txn(Build.txn([], success: [nested([Build.op(Build.delete("o", "p"))]), nested([Build.op(Build.put("o2", "v"))])])),
            .txn(Build.txn([], success: [Build.op(Build.put("o3", "v")), nested([], [Build.op(Build.delete("o3"))])])),
            .txn(Build.txn([], success: [nested([Build.op(Build.put("o4", "v"))]), nested([], [Build.op(Build.put("o4", "w"))])])),
            .txn(Build.txn([], success: [Build.op(Build.delete("o6", "o5")), Build.op(Build.put("o5x", "v"))])),
            .txn(Build.txn([], success: [Build.op(Build.delete("o7", "o8")), Build.op(Build.put("o8", "v"))])),
        ]
        return calls
    }

    /// Seeded random traffic over a small key space (ten keys, so sorting never meets etcd's
    /// unstable sort of larger sets), mixing every call kind and option.
    static func random(seed: UInt64, count: Int) -> [KVCall] {
        var random = SplitMix64(seed: seed)
        let keys = (0..<10).map { "r\($0)" }
        var revision: Int64 = 1
        var compacted: Int64 = 0
        func key() -> String { keys[Int(random.next() % UInt64(keys.count))] }
        func end(after key: String) -> String {
            switch random.next() % 4 {
            case 0: return ""
            case 1: return "\u{0}"
            case 2: return "r\(Int(key.dropFirst())! + 1 + Int(random.next() % 4))"
            default: return "s"
            }
        }
        func value() -> String { String(random.next() % 1000) }
        func rangeRequest() -> Etcdserverpb_RangeRequest {
            let start = key()
            return Build.get(start, end(after: start), revision: random.next() % 4 == 0 ? Int64(random.next() % UInt64(revision + 2)) : 0,
                             limit: Int64(random.next() % 4)) { request in
                if random.next() % 3 == 0 {
                    request.sortTarget = Etcdserverpb_RangeRequest.SortTarget(rawValue: Int(random.next() % 5)) ?? .key
                    request.sortOrder = Etcdserverpb_RangeRequest.SortOrder(rawValue: Int(random.next() % 3)) ?? .none
                }
                request.keysOnly = random.next() % 5 == 0
                request.countOnly = random.next() % 7 == 0
                if random.next() % 6 == 0 { request.minModRevision = Int64(random.next() % UInt64(revision + 1)) }
                if random.next() % 6 == 0 { request.maxCreateRevision = Int64(random.next() % UInt64(revision + 1)) }
            }
        }
        func writeOp() -> Etcdserverpb_RequestOp {
            random.next() % 3 == 0 ? Build.op(Build.delete(key(), random.next() % 2 == 0 ? "" : "s", prevKv: true))
                : Build.op(Build.put(key(), value()) { $0.prevKv = random.next() % 2 == 0 })
        }
        var calls: [KVCall] = []
        for _ in 0..<count {
            switch random.next() % 10 {
            case 0, 1, 2:
                calls.append(.put(Build.put(key(), value()) { $0.prevKv = random.next() % 2 == 0 }))
                revision += 1
            case 3, 4, 5:
                calls.append(.range(rangeRequest()))
            case 6:
                let start = key()
                calls.append(.delete(Build.delete(start, end(after: start), prevKv: random.next() % 2 == 0)))
                revision += 1
            case 7, 8:
                let targets: [Etcdserverpb_Compare.CompareTarget] = [.version, .create, .mod, .value]
                let target = targets[Int(random.next() % 4)]
                let compare = Build.compare(
                    key(), target, Etcdserverpb_Compare.CompareResult(rawValue: Int(random.next() % 4)) ?? .equal,
                    Int64(random.next() % UInt64(revision + 1)), value: value())
                let success = [random.next() % 2 == 0 ? writeOp() : Build.op(rangeRequest()), Build.op(rangeRequest())]
                calls.append(.txn(Build.txn([compare], success: success, failure: [writeOp()])))
                revision += 1
            default:
                let target = compacted + Int64(random.next() % 3)
                calls.append(.compact(Build.compact(target, physical: random.next() % 2 == 0)))
                compacted = max(compacted, target)
            }
        }
        return calls
    }
}

/// A tiny deterministic generator, so a failing random sequence can be replayed from its seed.
struct SplitMix64 {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
