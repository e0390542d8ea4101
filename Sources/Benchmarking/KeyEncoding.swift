import Foundation

/// Keys and values laid out as etcd's `benchmark` tool makes them, so both servers store the same bytes.
enum KeyEncoding {
    /// A `size`-byte key holding `number` as a zig-zag varint (Go's `binary.PutVarint`) followed by zeros.
    static func key(_ number: Int, size: Int) -> Data {
        var bytes = [UInt8](repeating: 0, count: size)
        var value = UInt64(bitPattern: Int64(number)) << 1
        if number < 0 { value = ~value }
        var index = 0
        while value >= 0x80 {
            bytes[index] = UInt8(truncatingIfNeeded: value) | 0x80
            value >>= 7
            index += 1
        }
        bytes[index] = UInt8(truncatingIfNeeded: value)
        return Data(bytes)
    }

    /// Bytes needed for the varint of the largest key in a key space of `keySpaceSize` keys.
    static func varintLength(keySpaceSize: Int) -> Int {
        var value = UInt64(max(keySpaceSize - 1, 0)) << 1
        var length = 1
        while value >= 0x80 {
            value >>= 7
            length += 1
        }
        return length
    }

    /// Checks that every key of the key space fits in `keySize` bytes (etcd's tool panics instead).
    static func validate(keySize: Int, keySpaceSize: Int) throws {
        guard keySpaceSize > 0 else {
            throw BenchmarkError(
                code: .invalidConfiguration, message: "expected positive --key-space-size, got (\(keySpaceSize))")
        }
        let needed = varintLength(keySpaceSize: keySpaceSize)
        guard keySize >= needed else {
            throw BenchmarkError(
                code: .invalidConfiguration,
                message: "--key-size \(keySize) is too small for --key-space-size \(keySpaceSize) (needs \(needed))")
        }
    }

    /// `size` random bytes, generated once and shared by every request.
    static func randomValue(size: Int) -> Data {
        var generator = SystemRandomNumberGenerator()
        return Data((0..<max(size, 0)).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
    }
}
