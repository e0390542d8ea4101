/// The routing id a ROUTER socket puts in front of each message from a peer, kept to address the replies.
/// ZeroMQ's generated ids are 5 bytes; ids of up to 16 bytes are stored inline, without allocating.
struct PeerIdentity: Sendable {
    private enum Storage: Sendable {
        case inline(UInt64, UInt64, count: UInt8)
        case heap([UInt8])
    }

    private let storage: Storage

    init(_ bytes: UnsafeRawBufferPointer) {
        if bytes.count <= 16 {
            var words: (UInt64, UInt64) = (0, 0)
            withUnsafeMutableBytes(of: &words) { $0.copyMemory(from: bytes) }
            storage = .inline(words.0, words.1, count: UInt8(bytes.count))
        } else {
            storage = .heap([UInt8](bytes))
        }
    }

    func withBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        switch storage {
        case .inline(let first, let second, let count):
            var words = (first, second)
            return withUnsafeBytes(of: &words) { body(UnsafeRawBufferPointer(rebasing: $0.prefix(Int(count)))) }
        case .heap(let bytes):
            return bytes.withUnsafeBytes(body)
        }
    }
}
