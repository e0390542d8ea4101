/// Lexical path helpers: the plan is computed without touching the file system.
enum Path {
    /// `base/component` with exactly one separator.
    static func join(_ base: String, _ component: String) -> String {
        if base.hasSuffix("/") {
            return base + component
        }
        return base + "/" + component
    }

    /// Makes `path` absolute against `workingDirectory` and removes `.`, `..` and repeated separators.
    static func absolute(_ path: String, workingDirectory: String) -> String {
        let combined = path.hasPrefix("/") ? path : join(workingDirectory, path)
        var components: [Substring] = []
        for component in combined.split(separator: "/", omittingEmptySubsequences: true) {
            switch component {
            case ".":
                continue
            case "..":
                _ = components.popLast()
            default:
                components.append(component)
            }
        }
        return "/" + components.joined(separator: "/")
    }

    /// The 64-bit FNV-1a hash of the UTF-8 bytes, as 16 lower-case hex digits. Stable across runs,
    /// unlike `Hasher`.
    static func fnv1aHex(_ text: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        let digits = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
