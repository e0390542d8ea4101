/// etcd's access control for the HTTP requests of the client port (`--cors`, `--host-whitelist`):
/// which origins get CORS headers, and which host names a plaintext port answers. A web page can
/// point a host name it owns at 127.0.0.1 ("DNS rebinding", CVE-2018-5702) and reach a plaintext
/// port from the browser; naming the hosts the port answers to stops that. Both lists default to
/// `*`, everything, as in etcd; a TLS port answers every host, as etcd's does.
struct HTTPAccessPolicy: Sendable {
    /// `--cors`: origins whose requests get CORS headers naming them; `*` (or nothing) for all.
    var allowedOrigins: Set<String> = ["*"]
    /// `--host-whitelist`: host names (without port) a plaintext port answers; `*` (or nothing) for all.
    var allowedHosts: Set<String> = ["*"]

    /// etcd's CORS headers for a request from `origin`: `*` when every origin is allowed, the origin
    /// itself when it is listed, none otherwise.
    func corsHeaders(origin: String?) -> [(String, String)] {
        let allowed: String
        if allowedOrigins.isEmpty || allowedOrigins.contains("*") {
            allowed = "*"
        } else if let origin, allowedOrigins.contains(origin) {
            allowed = origin
        } else {
            return []
        }
        return [
            ("Access-Control-Allow-Headers", "accept, content-type, authorization"),
            ("Access-Control-Allow-Methods", "POST, GET, OPTIONS, PUT, DELETE"),
            ("Access-Control-Allow-Origin", allowed),
        ]
    }

    /// The host name of a request's `Host` header that a plaintext port refuses, or nil to serve it.
    func refusedHost(_ hostHeader: String?) -> String? {
        guard !allowedHosts.isEmpty, !allowedHosts.contains("*") else { return nil }
        let host = Self.hostname(hostHeader ?? "")
        return allowedHosts.contains(host) ? nil : host
    }

    /// The host part of a `Host` header as Go's `net.SplitHostPort` finds it (`[::1]:2379` → `::1`),
    /// or the whole header when it has no port.
    static func hostname(_ header: String) -> String {
        if header.hasPrefix("["), let close = header.firstIndex(of: "]") {
            let rest = header[header.index(after: close)...]
            guard rest.hasPrefix(":"), !rest.dropFirst().contains(":") else { return header }
            return String(header[header.index(after: header.startIndex)..<close])
        }
        let parts = header.split(separator: ":", omittingEmptySubsequences: false)
        return parts.count == 2 ? String(parts[0]) : header
    }

    /// Go's `%q` of a string: quotes, with quotes, backslashes and control characters escaped.
    private static func goQuoted(_ text: String) -> String {
        var quoted = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": quoted += "\\\""
            case "\\": quoted += "\\\\"
            case "\n": quoted += "\\n"
            case "\t": quoted += "\\t"
            case "\r": quoted += "\\r"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                quoted += "\\x" + (scalar.value < 0x10 ? "0" : "") + String(scalar.value, radix: 16)
            default: quoted.unicodeScalars.append(scalar)
            }
        }
        return quoted + "\""
    }

    /// etcd's answer to a refused host: 421 with this text, as Go's `http.Error` writes it.
    static func refusal(host: String) -> String {
        """

        etcd received your request, but the Host header was unrecognized.

        To fix this, choose one of the following options:
        - Enable TLS, then any HTTPS request will be allowed.
        - Add the hostname you want to use to the whitelist in settings.
          - e.g. etcd --host-whitelist \(goQuoted(host))

        This requirement has been added to help prevent "DNS Rebinding" attacks (CVE-2018-5702).


        """
    }
}
