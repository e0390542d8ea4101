/// Finds the JSON values in a request body the way etcd's gateway reads them: Go's `json.Decoder`
/// takes one value at a time from the body and stops at its end, so a unary call reads the first
/// value and ignores what follows, and a stream (Watch, LeaseKeepAlive) reads one request per value.
/// Malformed input gets the exact message of Go's scanner (`invalid character '}' looking for
/// beginning of object key string`, `unexpected EOF`), which clients see in etcd's error body.
///
/// The scanner is a state machine over single bytes, as Go's is: it keeps its place between calls,
/// so a body that arrives in many pieces is read once however it is cut (no re-scan of a value on
/// every piece), and deeply nested input cannot exhaust the stack.
struct GoJSONScanner {
    enum Kind: Equatable {
        case object, array, string, number, bool, null

        /// The word Go's `UnmarshalTypeError` uses for a value of this kind.
        var goName: String {
            switch self {
            case .object: "object"
            case .array: "array"
            case .string: "string"
            case .number: "number"
            case .bool: "bool"
            case .null: "null"
            }
        }
    }

    enum Outcome: Equatable {
        /// A whole value at `range` (leading whitespace skipped).
        case value(Range<Int>, Kind)
        /// Only whitespace up to the end of a finished body: Go's `io.EOF`.
        case endOfBody
        /// The value may go on in bytes not received yet.
        case needsMore
        case malformed(String)
    }

    /// Where the scanner is, as Go's `scanner.step` functions name it.
    private enum State {
        case beginValue
        /// After `[`.
        case beginValueOrEmpty
        /// After `{`.
        case beginKeyOrEmpty
        /// After `,` in an object.
        case beginKey
        /// After a value inside a container.
        case endValue
        case string
        case stringEscape
        /// Inside `\u`, with this many hex digits read.
        case stringUnicode(Int)
        case negative
        case zero
        case integer
        case dot
        case fraction
        case exponent
        case exponentSign
        case exponentDigits
        /// Inside `true`, `false` or `null`, with this many bytes of it read.
        case literal(StaticString, Int)

        /// Whether a number may end here.
        var endsNumber: Bool {
            switch self {
            case .zero, .integer, .fraction, .exponentDigits: true
            default: false
            }
        }
    }

    /// What the innermost open container expects next (Go's parse states).
    private enum Container {
        case objectKey, objectValue, array
    }

    /// The next byte to read.
    private var index = 0
    private var state = State.beginValue
    private var containers: [Container] = []
    /// Where the value being read starts, and its kind, once its first byte has been read.
    private var valueStart: Int?
    private var kind = Kind.null

    init() {}

    /// The scanner's place moves `count` bytes back: the caller dropped that many bytes, all before
    /// the value being read.
    mutating func dropped(_ count: Int) {
        index -= count
        valueStart = valueStart.map { $0 - count }
    }

    /// Reads on from where the previous call stopped to the end of the next value in `bytes`.
    /// - Parameter bodyComplete: whether `bytes` holds the whole body; a value cut short is then
    ///   Go's `unexpected EOF` rather than a wait for more.
    mutating func next(in bytes: [UInt8], bodyComplete: Bool) -> Outcome {
        while index < bytes.count {
            let byte = bytes[index]
            switch step(byte, at: index) {
            case .continue:
                index += 1
            case .reprocess:
                break
            case .ended(let end):
                return finish(at: end)
            case .invalid(let message):
                return .malformed(message)
            }
        }
        guard bodyComplete else { return .needsMore }
        guard valueStart != nil else { return .endOfBody }
        guard containers.isEmpty, state.endsNumber else { return .malformed("unexpected EOF") }
        // A top-level number ends where the body ends; the scanner is then past it, as after any value.
        return finish(at: bytes.count)
    }

    private enum StepResult {
        case `continue`
        /// The byte ended a number and is read again in the state after it.
        case reprocess
        /// A top-level value ended before `end`.
        case ended(Int)
        case invalid(String)
    }

    private mutating func finish(at end: Int) -> Outcome {
        let outcome = Outcome.value(valueStart!..<end, kind)
        index = end
        state = .beginValue
        valueStart = nil
        return outcome
    }

    private mutating func step(_ byte: UInt8, at position: Int) -> StepResult {
        switch state {
        case .beginValue:
            return beginValue(byte, at: position)
        case .beginValueOrEmpty:
            if Self.isSpace(byte) { return .continue }
            if byte == UInt8(ascii: "]") { return close(at: position) }
            return beginValue(byte, at: position)
        case .beginKeyOrEmpty:
            if Self.isSpace(byte) { return .continue }
            if byte == UInt8(ascii: "}") { return close(at: position) }
            return beginKey(byte)
        case .beginKey:
            if Self.isSpace(byte) { return .continue }
            return beginKey(byte)
        case .endValue:
            if Self.isSpace(byte) { return .continue }
            switch (containers[containers.count - 1], byte) {
            case (.objectKey, UInt8(ascii: ":")):
                containers[containers.count - 1] = .objectValue
                state = .beginValue
                return .continue
            case (.objectKey, _):
                return invalid(byte, "after object key")
            case (.objectValue, UInt8(ascii: ",")):
                containers[containers.count - 1] = .objectKey
                state = .beginKey
                return .continue
            case (.objectValue, UInt8(ascii: "}")), (.array, UInt8(ascii: "]")):
                return close(at: position)
            case (.objectValue, _):
                return invalid(byte, "after object key:value pair")
            case (.array, UInt8(ascii: ",")):
                state = .beginValue
                return .continue
            case (.array, _):
                return invalid(byte, "after array element")
            }
        case .string:
            switch byte {
            case UInt8(ascii: "\""): return valueEnded(at: position + 1)
            case UInt8(ascii: "\\"): state = .stringEscape
            case 0..<0x20: return invalid(byte, "in string literal")
            default: break
            }
            return .continue
        case .stringEscape:
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                 UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                state = .string
            case UInt8(ascii: "u"):
                state = .stringUnicode(0)
            default:
                return invalid(byte, "in string escape code")
            }
            return .continue
        case .stringUnicode(let read):
            guard isHexDigit(byte) else { return invalid(byte, "in \\u hexadecimal character escape") }
            state = read == 3 ? .string : .stringUnicode(read + 1)
            return .continue
        case .negative:
            switch byte {
            case UInt8(ascii: "0"): state = .zero
            case UInt8(ascii: "1")...UInt8(ascii: "9"): state = .integer
            default: return invalid(byte, "in numeric literal")
            }
            return .continue
        case .integer where isDigit(byte), .fraction where isDigit(byte), .exponentDigits where isDigit(byte):
            return .continue
        case .zero, .integer:
            switch byte {
            case UInt8(ascii: "."): state = .dot
            case UInt8(ascii: "e"), UInt8(ascii: "E"): state = .exponent
            default: return numberEnded(at: position)
            }
            return .continue
        case .dot:
            guard isDigit(byte) else { return invalid(byte, "after decimal point in numeric literal") }
            state = .fraction
            return .continue
        case .fraction:
            guard byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") else { return numberEnded(at: position) }
            state = .exponent
            return .continue
        case .exponent where byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-"):
            state = .exponentSign
            return .continue
        case .exponent, .exponentSign:
            guard isDigit(byte) else { return invalid(byte, "in exponent of numeric literal") }
            state = .exponentDigits
            return .continue
        case .exponentDigits:
            return numberEnded(at: position)
        case .literal(let word, let read):
            let expected = word.withUTF8Buffer { $0[read] }
            guard byte == expected else {
                return invalid(byte, "in literal \(word) (expecting \(Self.quoteChar(expected)))")
            }
            if read + 1 == word.utf8CodeUnitCount { return valueEnded(at: position + 1) }
            state = .literal(word, read + 1)
            return .continue
        }
    }

    private mutating func beginValue(_ byte: UInt8, at position: Int) -> StepResult {
        if Self.isSpace(byte) { return .continue }
        let started: Kind
        switch byte {
        case UInt8(ascii: "{"):
            containers.append(.objectKey)
            state = .beginKeyOrEmpty
            started = .object
        case UInt8(ascii: "["):
            containers.append(.array)
            state = .beginValueOrEmpty
            started = .array
        case UInt8(ascii: "\""):
            state = .string
            started = .string
        case UInt8(ascii: "-"):
            state = .negative
            started = .number
        case UInt8(ascii: "0"):
            state = .zero
            started = .number
        case UInt8(ascii: "1")...UInt8(ascii: "9"):
            state = .integer
            started = .number
        case UInt8(ascii: "t"):
            state = .literal("true", 1)
            started = .bool
        case UInt8(ascii: "f"):
            state = .literal("false", 1)
            started = .bool
        case UInt8(ascii: "n"):
            state = .literal("null", 1)
            started = .null
        default:
            return invalid(byte, "looking for beginning of value")
        }
        if valueStart == nil {
            valueStart = position
            kind = started
        }
        return .continue
    }

    private mutating func beginKey(_ byte: UInt8) -> StepResult {
        guard byte == UInt8(ascii: "\"") else { return invalid(byte, "looking for beginning of object key string") }
        state = .string
        return .continue
    }

    /// A container closed with the byte at `position`.
    private mutating func close(at position: Int) -> StepResult {
        containers.removeLast()
        return valueEnded(at: position + 1)
    }

    /// A value ended just before `end`.
    private mutating func valueEnded(at end: Int) -> StepResult {
        if containers.isEmpty { return .ended(end) }
        state = .endValue
        return .continue
    }

    /// A number ended just before the byte at `position`, which is read again after it.
    private mutating func numberEnded(at position: Int) -> StepResult {
        if containers.isEmpty { return .ended(position) }
        state = .endValue
        return .reprocess
    }

    private func invalid(_ byte: UInt8, _ context: String) -> StepResult {
        .invalid("invalid character \(Self.quoteChar(byte)) \(context)")
    }

    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }

    private func isDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    private func isHexDigit(_ byte: UInt8) -> Bool {
        isDigit(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(byte)
    }

    /// Go's `quoteChar`: the byte read as the code point of the same number, quoted as `strconv.Quote`
    /// would, between single quotes.
    static func quoteChar(_ byte: UInt8) -> String {
        switch byte {
        case UInt8(ascii: "'"): return "'\\''"
        case UInt8(ascii: "\""): return "'\"'"
        case 0x07: return "'\\a'"
        case 0x08: return "'\\b'"
        case 0x0C: return "'\\f'"
        case 0x0A: return "'\\n'"
        case 0x0D: return "'\\r'"
        case 0x09: return "'\\t'"
        case 0x0B: return "'\\v'"
        case UInt8(ascii: "\\"): return "'\\\\'"
        case 0x20...0x7E, 0xA1...0xAC, 0xAE...0xFF: return "'\(Character(Unicode.Scalar(byte)))'"
        case 0x00..<0x20, 0x7F: return "'\\x\(hex(byte))'"
        default: return "'\\u00\(hex(byte))'"
        }
    }

    private static func hex(_ byte: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
    }
}
