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

    /// The contents of length-delimited field `field` in an encoded message (the last occurrence),
    /// skipping fields of any other kind; nil if it is absent or the bytes do not parse.
    static func lengthDelimitedField(_ field: Int, in bytes: [UInt8]) -> ArraySlice<UInt8>? {
        var index = 0
        var found: ArraySlice<UInt8>?
        while index < bytes.count {
            guard let key = readVarint(bytes, &index) else { return nil }
            switch key & 7 {
            case 0:
                guard readVarint(bytes, &index) != nil else { return nil }
            case 1:
                index += 8
            case 2:
                guard let length = readVarint(bytes, &index), length <= UInt64(bytes.count - index) else { return nil }
                if Int(key >> 3) == field { found = bytes[index..<index + Int(length)] }
                index += Int(length)
            case 5:
                index += 4
            default:
                return nil
            }
        }
        return index == bytes.count ? found : nil
    }

    /// The revision in an etcd response's header (field 1, revision its field 3) when the header is
    /// the response's first field, as every encoder writes it; nil otherwise. It reads a few bytes,
    /// whatever the size of the response.
    static func headerRevision(of response: [UInt8]) -> Int64? {
        var index = 0
        guard let key = readVarint(response, &index), key == 1 << 3 | 2,
              let length = readVarint(response, &index), length <= UInt64(response.count - index)
        else { return nil }
        let end = index + Int(length)
        while index < end {
            guard let fieldKey = readVarint(response, &index) else { return nil }
            switch fieldKey & 7 {
            case 0:
                guard let value = readVarint(response, &index) else { return nil }
                if fieldKey >> 3 == 3 { return Int64(bitPattern: value) }
            case 1: index += 8
            case 2:
                guard let skipped = readVarint(response, &index), skipped <= UInt64(end - index) else { return nil }
                index += Int(skipped)
            case 5: index += 4
            default: return nil
            }
        }
        return nil
    }

    /// An encoded `header` field (number 1) holding only `revision`.
    static func headerField(revision: Int64) -> [UInt8] {
        let header = varint(3 << 3) + varint(UInt64(bitPattern: revision))
        return wrap(field: 1, header)
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
