/// `--auth-backend`: which auth backend serves users, roles and tokens (docs/auth-plugins.md, "Choosing a
/// backend"). Every backend follows the same bus contract, so the gateway does not care which one runs.
public enum AuthBackendChoice: Sendable, Hashable, CustomStringConvertible {
    /// `builtin`: `etcetera-auth`, with its state in the data directory (the default).
    case builtin
    /// `file:PATH`: `etcetera-auth-file --file PATH`, read-only, users and roles from a JSON file.
    case file(path: String)
    /// `exec:COMMAND`: runs COMMAND (split on spaces) with the standard backend flags appended, supervised
    /// like the other services.
    case exec(command: [String])
    /// `endpoint:REQUESTS,EVENTS`: a backend that is already running elsewhere; nothing is started, the
    /// gateway connects to its request/reply and event endpoints.
    case endpoint(requests: String, events: String)

    /// Parses the flag's value; nil when it is none of the four forms.
    public init?(flagValue text: String) {
        if text == "builtin" {
            self = .builtin
        } else if let path = Self.remainder(of: text, after: "file:") {
            self = .file(path: path)
        } else if let command = Self.remainder(of: text, after: "exec:") {
            self = .exec(command: command.split(separator: " ").map(String.init))
        } else if let endpoints = Self.remainder(of: text, after: "endpoint:") {
            let parts = endpoints.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 2, parts.allSatisfy({ $0.contains("://") }) else { return nil }
            self = .endpoint(requests: parts[0], events: parts[1])
        } else {
            return nil
        }
    }

    /// The text after `prefix`, nil when `text` does not start with it or nothing but spaces follows.
    private static func remainder(of text: String, after prefix: String) -> String? {
        guard text.hasPrefix(prefix) else { return nil }
        let rest = String(text.dropFirst(prefix.count))
        return rest.contains(where: { $0 != " " }) ? rest : nil
    }

    public var description: String {
        switch self {
        case .builtin: "builtin"
        case .file(let path): "file:\(path)"
        case .exec(let command): "exec:\(command.joined(separator: " "))"
        case .endpoint(let requests, let events): "endpoint:\(requests),\(events)"
        }
    }
}
