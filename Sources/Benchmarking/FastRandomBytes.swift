import Foundation

/// Incompressible bytes in bulk: splitmix64, seeded once. `SystemRandomNumberGenerator` costs a
/// system call per eight bytes, too slow for a gigabyte of values.
struct FastRandomBytes {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next(count: Int) -> Data {
        var data = Data(count: max(count, 0))
        data.withUnsafeMutableBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                var word = nextWord()
                let length = min(8, buffer.count - offset)
                withUnsafeBytes(of: &word) { buffer.baseAddress!.advanced(by: offset).copyMemory(from: $0.baseAddress!, byteCount: length) }
                offset += length
            }
        }
        return data
    }

    private mutating func nextWord() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
