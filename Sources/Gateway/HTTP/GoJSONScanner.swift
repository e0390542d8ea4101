/// Finds the JSON values in a request body the way etcd's gateway reads them: Go's `json.Decoder`
/// takes one value at a time from the body and stops at its end, so a unary call reads the first
/// value and ignores what follows, and a stream (Watch, LeaseKeepAlive) reads one request per value.
/// Malformed input gets the exact message of Go's scanner (`invalid character '}' looking for
/// beginning of object key string`, `unexpected EOF`), which clients see in etcd's error body.
///
/// The scanner is iterative, so deeply nested input cannot exhaust the stack.
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

    /// Scans the value that starts at or after `start`.
    /// - Parameter bodyComplete: whether `bytes` holds the whole body; a value cut short is then
    ///   Go's `unexpected EOF` rather than a wait for more.
    static func scan(_ bytes: [UInt8], from start: Int, bodyComplete: Bool) -> Outcome {
        var index = start
        while index < bytes.count, isSpace(bytes[index]) { index += 1 }
        guard index < bytes.count else { return bodyComplete ? .endOfBody : .needsMore }
        let first = index
        var scanner = GoJSONScanner(bytes: bytes, index: index)
        switch scanner.run() {
        case .finished(let kind):
            return .value(first..<scanner.index, kind)
        case .ranOut:
            // A top-level number ends where the body ends.
            if bodyComplete, scanner.topLevelNumberComplete { return .value(first..<scanner.index, .number) }
            return bodyComplete ? .malformed("unexpected EOF") : .needsMore
        case .invalid(let message):
            return .malformed(message)
        }
    }

    private enum Run {
        case finished(Kind)
        case ranOut
        case invalid(String)
    }

    private enum Container {
        case object, array
    }

    private let bytes: [UInt8]
    private var index: Int
    private var containers: [Container] = []
    private var topLevelNumberComplete = false

    private init(bytes: [UInt8], index: Int) {
        self.bytes = bytes
        self.index = index
    }

    private mutating func run() -> Run {
        var firstKind: Kind?
        // Each turn reads one value, then the punctuation after it up to the next value.
        while true {
            guard let byte = peek() else { return .ranOut }
            let kind: Kind
            switch byte {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                let isObject = byte == UInt8(ascii: "{")
                index += 1
                guard let next = skipSpace() else { return .ranOut }
                if next == (isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                    index += 1
                    kind = isObject ? .object : .array
                } else {
                    if isObject {
                        guard next == UInt8(ascii: "\"") else { return invalid(next, "looking for beginning of object key string") }
                        if let failure = readKey() { return failure }
                    }
                    containers.append(isObject ? .object : .array)
                    if firstKind == nil { firstKind = isObject ? .object : .array }
                    continue
                }
            case UInt8(ascii: "\""):
                if let failure = readString() { return failure }
                kind = .string
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                if let failure = readNumber(topLevel: containers.isEmpty) { return failure }
                kind = .number
            case UInt8(ascii: "t"):
                if let failure = readLiteral("true") { return failure }
                kind = .bool
            case UInt8(ascii: "f"):
                if let failure = readLiteral("false") { return failure }
                kind = .bool
            case UInt8(ascii: "n"):
                if let failure = readLiteral("null") { return failure }
                kind = .null
            default:
                return invalid(byte, "looking for beginning of value")
            }
            // After a value: close containers or move to the next element.
            while true {
                guard let container = containers.last else { return .finished(firstKind ?? kind) }
                guard let next = skipSpace() else { return .ranOut }
                index += 1
                switch (container, next) {
                case (.object, UInt8(ascii: ",")):
                    guard let keyStart = skipSpace() else { return .ranOut }
                    guard keyStart == UInt8(ascii: "\"") else { return invalid(keyStart, "looking for beginning of object key string") }
                    if let failure = readKey() { return failure }
                case (.array, UInt8(ascii: ",")):
                    break
                case (.object, UInt8(ascii: "}")), (.array, UInt8(ascii: "]")):
                    containers.removeLast()
                    continue
                case (.object, _):
                    return invalid(next, "after object key:value pair")
                case (.array, _):
                    return invalid(next, "after array element")
                }
                break
            }
        }
    }

    /// Reads `"key"` and the colon after it; the index then points at the value.
    private mutating func readKey() -> Run? {
        if let failure = readString() { return failure }
        guard let colon = skipSpace() else { return .ranOut }
        guard colon == UInt8(ascii: ":") else { return invalid(colon, "after object key") }
        index += 1
        guard skipSpace() != nil else { return .ranOut }
        return nil
    }

    private mutating func readString() -> Run? {
        index += 1
        while let byte = peek() {
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                return nil
            case UInt8(ascii: "\\"):
                guard let escape = peek() else { return .ranOut }
                index += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                     UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    continue
                case UInt8(ascii: "u"):
                    for _ in 0..<4 {
                        guard let hex = peek() else { return .ranOut }
                        guard isHexDigit(hex) else { return invalid(hex, "in \\u hexadecimal character escape") }
                        index += 1
                    }
                default:
                    return invalid(escape, "in string escape code")
                }
            case 0..<0x20:
                return invalid(byte, "in string literal")
            default:
                continue
            }
        }
        return .ranOut
    }

    private mutating func readNumber(topLevel: Bool) -> Run? {
        if peek() == UInt8(ascii: "-") {
            index += 1
            guard let digit = peek() else { return .ranOut }
            guard isDigit(digit) else { return invalid(digit, "in numeric literal") }
        }
        if peek() == UInt8(ascii: "0") {
            index += 1
        } else {
            while let digit = peek(), isDigit(digit) { index += 1 }
        }
        topLevelNumberComplete = topLevel
        if peek() == UInt8(ascii: ".") {
            index += 1
            topLevelNumberComplete = false
            guard let digit = peek() else { return .ranOut }
            guard isDigit(digit) else { return invalid(digit, "after decimal point in numeric literal") }
            while let digit = peek(), isDigit(digit) { index += 1 }
            topLevelNumberComplete = topLevel
        }
        if let exponent = peek(), exponent == UInt8(ascii: "e") || exponent == UInt8(ascii: "E") {
            index += 1
            topLevelNumberComplete = false
            if let sign = peek(), sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") { index += 1 }
            guard let digit = peek() else { return .ranOut }
            guard isDigit(digit) else { return invalid(digit, "in exponent of numeric literal") }
            while let digit = peek(), isDigit(digit) { index += 1 }
            topLevelNumberComplete = topLevel
        }
        // Digits may go on in bytes not received yet; only the end of the body settles a top-level number.
        return peek() == nil ? .ranOut : nil
    }

    private mutating func readLiteral(_ word: String) -> Run? {
        index += 1
        for expected in word.utf8.dropFirst() {
            guard let byte = peek() else { return .ranOut }
            guard byte == expected else {
                return invalid(byte, "in literal \(word) (expecting \(Self.quoteChar(expected)))")
            }
            index += 1
        }
        return nil
    }

    private func peek() -> UInt8? {
        index < bytes.count ? bytes[index] : nil
    }

    /// Skips whitespace and returns the next byte, if any has arrived.
    private mutating func skipSpace() -> UInt8? {
        while let byte = peek(), Self.isSpace(byte) { index += 1 }
        return peek()
    }

    private func invalid(_ byte: UInt8, _ context: String) -> Run {
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
