/// A protobuf message assembled field by field and encoded by hand, so that the request sweep can build
/// any request its descriptors describe, including values the generated types would not let it write
/// (an enum number no case names).
struct WireMessage: Sendable {
    enum Value: Sendable {
        case varint(UInt64)
        case bytes([UInt8])
        case message(WireMessage)
    }

    struct Field: Sendable {
        let number: Int32
        let value: Value
    }

    private(set) var fields: [Field] = []

    /// Sets field `number` to `value`, replacing what it held (a repeated field gets this one element).
    mutating func set(_ number: Int32, _ value: Value) {
        fields.removeAll { $0.number == number }
        fields.append(Field(number: number, value: value))
        fields.sort { $0.number < $1.number }
    }

    var encoded: [UInt8] {
        var bytes: [UInt8] = []
        for field in fields {
            switch field.value {
            case .varint(let value):
                Self.appendVarint(UInt64(field.number) << 3, to: &bytes)
                Self.appendVarint(value, to: &bytes)
            case .bytes(let contents):
                Self.appendLengthDelimited(field.number, contents, to: &bytes)
            case .message(let message):
                Self.appendLengthDelimited(field.number, message.encoded, to: &bytes)
            }
        }
        return bytes
    }

    private static func appendLengthDelimited(_ number: Int32, _ contents: [UInt8], to bytes: inout [UInt8]) {
        appendVarint(UInt64(number) << 3 | 2, to: &bytes)
        appendVarint(UInt64(contents.count), to: &bytes)
        bytes += contents
    }

    private static func appendVarint(_ value: UInt64, to bytes: inout [UInt8]) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }
}
