/// The few protobuf wire-format operations the gateway needs to forward etcd messages inside the
/// kv service's envelopes without decoding them: a `KVRequest`/`KVReply` is a single
/// length-delimited field whose number says which message it holds.
enum ProtobufWire {
    private static func varint(_ value: UInt64) -> [UInt8] {
        var value = value
        var bytes: [UInt8] = []
        while value >= 0x80 {
            bytes.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
        return bytes
    }

    /// `message` wrapped as length-delimited field `field`.
    static func wrap(field: Int, _ message: [UInt8]) -> [UInt8] {
        var bytes = varint(UInt64(field << 3 | 2))
        bytes.reserveCapacity(bytes.count + 5 + message.count)
        bytes += varint(UInt64(message.count))
        bytes += message
        return bytes
    }

    /// The field number and contents of an envelope holding one length-delimited field, or nil if the
    /// bytes are not exactly that.
    static func unwrap(_ bytes: [UInt8]) -> (field: Int, contents: ArraySlice<UInt8>)? {
        var index = 0
        guard let key = readVarint(bytes, &index), key & 7 == 2,
              let length = readVarint(bytes, &index), length == UInt64(bytes.count - index)
        else { return nil }
        return (Int(key >> 3), bytes[index...])
    }

    private static func readVarint(_ bytes: [UInt8], _ index: inout Int) -> UInt64? {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while index < bytes.count, shift < 64 {
            let byte = bytes[index]
            index += 1
            value |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
        return nil
    }
}
