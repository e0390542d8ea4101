/// Strings written as Go's `encoding/json` writes them, which is what etcd's gateway sends: `<`, `>`
/// and `&` as `\u003c`, `\u003e`, `\u0026`; U+2028 and U+2029 escaped; control characters other than
/// `\n`, `\r` and `\t` as `\u00XX`; DEL and the C1 controls as they are.
enum GoJSONText {
    /// `text` as a quoted JSON string.
    static func quoted(_ text: String) -> String {
        var output = "\""
        for scalar in text.unicodeScalars {
            appendEscaped(scalar, to: &output)
        }
        output += "\""
        return output
    }

    /// Rewrites the string escapes of SwiftProtobuf's JSON (which escapes `\b`, `\f`, DEL and the C1
    /// controls, and leaves `<`, `>`, `&` alone) into Go's; everything outside strings is kept.
    static func normalized(_ json: String) -> String {
        var output = ""
        output.reserveCapacity(json.utf8.count)
        var scalars = json.unicodeScalars.makeIterator()
        var inString = false
        while let scalar = scalars.next() {
            guard inString else {
                if scalar == "\"" { inString = true }
                output.unicodeScalars.append(scalar)
                continue
            }
            switch scalar {
            case "\"":
                inString = false
                output += "\""
            case "\\":
                guard let escape = scalars.next() else { return output }
                switch escape {
                case "b": output += "\\u0008"
                case "f": output += "\\u000c"
                case "u":
                    var hex = ""
                    for _ in 0..<4 { if let digit = scalars.next() { hex.unicodeScalars.append(digit) } }
                    if let value = UInt32(hex, radix: 16), let decoded = Unicode.Scalar(value) {
                        appendEscaped(decoded, to: &output)
                    } else {
                        output += "\\u" + hex
                    }
                default:
                    output += "\\"
                    output.unicodeScalars.append(escape)
                }
            default:
                appendEscaped(scalar, to: &output)
            }
        }
        return output
    }

    private static func appendEscaped(_ scalar: Unicode.Scalar, to output: inout String) {
        switch scalar {
        case "\"": output += "\\\""
        case "\\": output += "\\\\"
        case "\n": output += "\\n"
        case "\r": output += "\\r"
        case "\t": output += "\\t"
        case "<", ">", "&", "\u{2028}", "\u{2029}":
            output += unicodeEscape(scalar.value)
        case "\u{0}"..."\u{1F}":
            output += unicodeEscape(scalar.value)
        default:
            output.unicodeScalars.append(scalar)
        }
    }

    private static func unicodeEscape(_ value: UInt32) -> String {
        let hex = String(value, radix: 16)
        return "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }
}
