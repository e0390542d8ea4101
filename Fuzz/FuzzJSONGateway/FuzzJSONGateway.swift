import EtceteraAPI
import FuzzSupport
@testable import Gateway
import NIOHTTP1

/// libFuzzer target: the JSON gateway's reading of a request body and writing of a response. Byte 0
/// chooses one of etcd's gateway paths (``paths``), looked up as the gateway looks it up; with its high
/// bit clear the rest is a request body: every JSON value in it is found by `GoJSONScanner` (as a stream
/// reads one request per value) and each object decoded by the path's `JSONMessageCodec`. With the high
/// bit set the rest is a protobuf response, encoded to etcd's JSON by the same codec.
@main
enum FuzzerEntry {
    static func main() { runLibFuzzer(testOneInput) }
}

@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    guard size >= 1 else { return 0 }
    let input = UnsafeBufferPointer(start: data, count: size)
    guard case .route(let route) = gateway.lookup(.POST, path: paths[Int(input[0] & 0x7F) % paths.count], query: nil),
          let codec = route.codec
    else { return 0 }
    let body = Array(input.dropFirst())
    if input[0] & 0x80 != 0 {
        _ = codec.encodeResponse(body)
        return 0
    }
    // The body arrives in two parts, as a stream reads it: the scanner reads on where it stopped, and
    // the bytes of each value read are dropped, as the exchange drops them.
    let half = body.count / 2
    var scanner = GoJSONScanner()
    var buffer = Array(body[..<half])
    var complete = false
    while true {
        switch scanner.next(in: buffer, bodyComplete: complete) {
        case .value(let range, let kind):
            precondition(range.lowerBound >= 0 && range.upperBound <= buffer.count && !range.isEmpty, "value \(range) outside the body")
            if kind == .object, let message = try? codec.decodeRequest(Array(buffer[range])) {
                _ = codec.encodeResponse(message)
            }
            buffer.removeFirst(range.upperBound)
            scanner.dropped(range.upperBound)
        case .needsMore where !complete:
            buffer += body[half...]
            complete = true
        default:
            return 0
        }
    }
}

private let gateway = JSONGateway(methods: MethodTable(), maxMessageBytes: 1_572_864)

/// The paths of etcd 3.4's gateway that carry a request message (`JSONGateway`'s routes).
private let paths = [
    "/v3/kv/range", "/v3/kv/put", "/v3/kv/deleterange", "/v3/kv/txn", "/v3/kv/compaction",
    "/v3/lease/grant", "/v3/lease/revoke", "/v3/lease/timetolive", "/v3/lease/leases", "/v3/lease/keepalive",
    "/v3/watch",
    "/v3/cluster/member/add", "/v3/cluster/member/remove", "/v3/cluster/member/update", "/v3/cluster/member/list",
    "/v3/cluster/member/promote",
    "/v3/maintenance/alarm", "/v3/maintenance/status", "/v3/maintenance/defragment", "/v3/maintenance/hash",
    "/v3/maintenance/snapshot", "/v3/maintenance/transfer-leadership",
    "/v3/auth/enable", "/v3/auth/disable", "/v3/auth/authenticate",
    "/v3/auth/user/add", "/v3/auth/user/get", "/v3/auth/user/list", "/v3/auth/user/delete", "/v3/auth/user/changepw",
    "/v3/auth/user/grant", "/v3/auth/user/revoke",
    "/v3/auth/role/add", "/v3/auth/role/get", "/v3/auth/role/list", "/v3/auth/role/delete", "/v3/auth/role/grant",
    "/v3/auth/role/revoke",
]
