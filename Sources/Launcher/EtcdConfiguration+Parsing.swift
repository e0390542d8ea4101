import Foundation
import Maintenance
import ServiceSupport
import Yams
extension EtcdConfiguration {
    /// What a command line asks the launcher to do.
    public struct LaunchRequest: Sendable, Hashable {
        public enum Action: Sendable, Hashable {
            /// Start the services with ``configuration``.
            case run
            /// `--version`: print ``EtceteraVersion/lines`` and exit 0.
            case printVersion
            /// `--help`, `-h`: print ``EtcdConfiguration/usage`` and exit 0.
            case printHelp
        }

        public var action: Action
        public var configuration: EtcdConfiguration
        /// One line per ignored input: unsupported flags and variables, shadowed variables, extra listen URLs.
        public var warnings: [String]
    }

    /// Parses etcd's command-line syntax and `ETCD_*` environment variables.
    ///
    /// Accepted forms, as Go's `flag` package that etcd uses: `--flag value`, `--flag=value`, single-dash
    /// `-flag`, booleans as `--flag` or `--flag=true|false`. Flags win over variables (`--data-dir` ↔
    /// `ETCD_DATA_DIR`); a repeated flag keeps its last value. Flags Etcetera does not support are never
    /// fatal: each is reported once in `warnings` and skipped together with its value (the next argument,
    /// unless it looks like a flag).
    ///
    /// - Parameters:
    ///   - arguments: the arguments without the program name.
    ///   - environment: the process environment; only `ETCD_*` variables are read.
    /// - Throws: `LauncherError` for a bad value, a missing value, a stray positional argument or an
    ///   unusable client URL.
    ///
    /// With `--config-file` (or `ETCD_CONFIG_FILE`), the configuration comes from that YAML file, with
    /// etcd's flag names as keys, and every other flag and variable is ignored, as etcd does.
    /// - Parameter readFile: reads the configuration file (tests pass their own).
    public static func parse(
        arguments: [String], environment: [String: String] = [:],
        readFile: (String) throws -> String = { try String(contentsOfFile: $0, encoding: .utf8) }
    ) throws -> LaunchRequest {
        var parser = FlagParser()
        if try parser.parseArguments(arguments) == .printHelp {
            return LaunchRequest(action: .printHelp, configuration: EtcdConfiguration(), warnings: parser.warnings)
        }
        parser.applyEnvironment(environment)
        if let path = parser.value(of: "config-file") {
            try parser.replaceWithConfigFile(path, readFile: readFile)
        }
        let configuration = try parser.buildConfiguration()
        parser.warnings += try configuration.checkAuthToken()
        if let wantsVersion = try parser.value(of: "version").map({ try parseBool($0) }), wantsVersion {
            return LaunchRequest(action: .printVersion, configuration: configuration, warnings: parser.warnings)
        }
        parser.warnings += configuration.clientTransportSecurityWarnings
        if let served = configuration.servedClientURL {
            for ignored in configuration.ignoredListenClientURLs {
                parser.warnings.append(
                    "ignoring listen client URL \(ignored): Etcetera serves only \(served) for now"
                )
            }
        }
        for ignored in configuration.listenMetricsURLs where ignored.scheme != "http" {
            parser.warnings.append("ignoring listen metrics URL \(ignored): Etcetera serves metrics on http:// URLs only for now")
        }
        return LaunchRequest(action: .run, configuration: configuration, warnings: parser.warnings)
    }

    /// The environment variable etcd reads for a flag: `data-dir` → `ETCD_DATA_DIR`.
    public static func environmentVariable(forFlag flag: String) -> String {
        "ETCD_" + flag.uppercased().replacingAll("-", with: "_")
    }
}

/// A flag Etcetera understands.
private struct FlagDefinition {
    let name: String
    let isBoolean: Bool
    /// Whether `ETCD_<NAME>` may set it (not for `--help` and `--version`).
    let readsEnvironment: Bool
    /// The mapping that holds it in a configuration file, where etcd does not keep it at the top level.
    var configFileSection: String? = nil

    /// etcd's configuration-file mapping for the client TLS flags.
    static let clientTransportSecurity = "client-transport-security"

    static let all: [FlagDefinition] = [
        .init(name: "name", isBoolean: false, readsEnvironment: true),
        .init(name: "data-dir", isBoolean: false, readsEnvironment: true),
        .init(name: "listen-client-urls", isBoolean: false, readsEnvironment: true),
        .init(name: "advertise-client-urls", isBoolean: false, readsEnvironment: true),
        .init(name: "listen-metrics-urls", isBoolean: false, readsEnvironment: true),
        .init(name: "initial-advertise-peer-urls", isBoolean: false, readsEnvironment: true),
        .init(name: "max-txn-ops", isBoolean: false, readsEnvironment: true),
        .init(name: "max-request-bytes", isBoolean: false, readsEnvironment: true),
        .init(name: "max-concurrent-streams", isBoolean: false, readsEnvironment: true),
        .init(name: "grpc-keepalive-min-time", isBoolean: false, readsEnvironment: true),
        .init(name: "grpc-keepalive-interval", isBoolean: false, readsEnvironment: true),
        .init(name: "grpc-keepalive-timeout", isBoolean: false, readsEnvironment: true),
        .init(name: "client-idle-timeout", isBoolean: false, readsEnvironment: true),
        .init(name: "log-level", isBoolean: false, readsEnvironment: true),
        .init(name: "logger", isBoolean: false, readsEnvironment: true),
        .init(name: "quota-backend-bytes", isBoolean: false, readsEnvironment: true),
        .init(name: "auto-compaction-mode", isBoolean: false, readsEnvironment: true),
        .init(name: "auto-compaction-retention", isBoolean: false, readsEnvironment: true),
        .init(name: "experimental-initial-corrupt-check", isBoolean: true, readsEnvironment: true),
        .init(name: "experimental-corrupt-check-time", isBoolean: false, readsEnvironment: true),
        .init(name: "experimental-compaction-batch-limit", isBoolean: false, readsEnvironment: true),
        .init(name: "experimental-enable-lease-checkpoint", isBoolean: true, readsEnvironment: true),
        .init(name: "cors", isBoolean: false, readsEnvironment: true),
        .init(name: "log-outputs", isBoolean: false, readsEnvironment: true),
        .init(name: "host-whitelist", isBoolean: false, readsEnvironment: true),
        .init(name: "watch-processes", isBoolean: false, readsEnvironment: true),
        .init(name: "experimental-watch-progress-notify-interval", isBoolean: false, readsEnvironment: true),
        .init(name: "bus-listen", isBoolean: false, readsEnvironment: true),
        .init(name: "external-watch-endpoints", isBoolean: false, readsEnvironment: true),
        .init(name: "auth-token", isBoolean: false, readsEnvironment: true),
        .init(name: "bus-curve-keys", isBoolean: false, readsEnvironment: true),
        .init(name: "bus-insecure", isBoolean: true, readsEnvironment: true),
        .init(name: "auth-token-ttl", isBoolean: false, readsEnvironment: true),
        .init(name: "bcrypt-cost", isBoolean: false, readsEnvironment: true),
        .init(name: "auth-backend", isBoolean: false, readsEnvironment: true),
        .init(name: "cert-file", isBoolean: false, readsEnvironment: true, configFileSection: clientTransportSecurity),
        .init(name: "key-file", isBoolean: false, readsEnvironment: true, configFileSection: clientTransportSecurity),
        .init(name: "trusted-ca-file", isBoolean: false, readsEnvironment: true, configFileSection: clientTransportSecurity),
        .init(name: "client-cert-auth", isBoolean: true, readsEnvironment: true, configFileSection: clientTransportSecurity),
        .init(name: "auto-tls", isBoolean: true, readsEnvironment: true, configFileSection: clientTransportSecurity),
        .init(name: "cipher-suites", isBoolean: false, readsEnvironment: true),
        .init(name: "config-file", isBoolean: false, readsEnvironment: true),
        .init(name: "version", isBoolean: true, readsEnvironment: false),
        .init(name: "help", isBoolean: true, readsEnvironment: false),
    ]

    static let byName: [String: FlagDefinition] = Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })
}

/// Where a raw value came from, for error messages.
private struct RawValue {
    let text: String
    let source: String
    var isConfigFileValue = false
}

private struct FlagParser {
    var values: [String: RawValue] = [:]
    var warnings: [String] = []
    private var warnedFlags: Set<String> = []

    enum Outcome {
        case continueParsing
        case printHelp
    }

    mutating func parseArguments(_ arguments: [String]) throws -> Outcome {
        var index = arguments.startIndex
        while index < arguments.endIndex {
            let argument = arguments[index]
            index += 1
            if argument == "--" {
                if index < arguments.endIndex {
                    throw LauncherError(
                        code: .invalidArgument,
                        message: "'\(arguments[index])' is not a valid flag"
                    )
                }
                break
            }
            guard argument.count > 1, argument.hasPrefix("-") else {
                throw LauncherError(code: .invalidArgument, message: "'\(argument)' is not a valid flag")
            }
            let body = argument.dropFirst(argument.hasPrefix("--") ? 2 : 1)
            guard let first = body.first, first != "-", first != "=" else {
                throw LauncherError(code: .invalidArgument, message: "bad flag syntax: \(argument)")
            }
            let name: String
            var inlineValue: String?
            if let equals = body.firstIndex(of: "=") {
                name = String(body[..<equals])
                inlineValue = String(body[body.index(after: equals)...])
            } else {
                name = String(body)
            }
            if name == "h" || name == "help" {
                if let inlineValue, !(try EtcdConfiguration.parseBool(inlineValue, flag: name)) {
                    continue
                }
                return .printHelp
            }
            guard let definition = FlagDefinition.byName[name] else {
                if inlineValue == nil, index < arguments.endIndex, !Self.looksLikeFlag(arguments[index]) {
                    index += 1
                }
                if warnedFlags.insert(name).inserted {
                    warnings.append("ignoring unsupported flag --\(name)")
                }
                continue
            }
            let value: String
            if let inlineValue {
                value = inlineValue
            } else if definition.isBoolean {
                value = "true"
            } else if index < arguments.endIndex {
                value = arguments[index]
                index += 1
            } else {
                throw LauncherError(code: .missingFlagValue, message: "flag needs an argument: --\(name)")
            }
            values[name] = RawValue(text: value, source: "flag --\(name)")
        }
        return .continueParsing
    }

    /// Fills flags not given on the command line from `ETCD_*`, and reports the variables it cannot use.
    mutating func applyEnvironment(_ environment: [String: String]) {
        var known: [String: FlagDefinition] = [:]
        for definition in FlagDefinition.all where definition.readsEnvironment {
            known[EtcdConfiguration.environmentVariable(forFlag: definition.name)] = definition
        }
        for (variable, text) in environment.sorted(by: { $0.key < $1.key }) where variable.hasPrefix("ETCD_") {
            guard !text.isEmpty else { continue }
            guard let definition = known[variable] else {
                warnings.append("ignoring unsupported environment variable \(variable)")
                continue
            }
            if values[definition.name] != nil {
                warnings.append(
                    "recognized environment variable \(variable), but unused: shadowed by corresponding flag"
                )
                continue
            }
            values[definition.name] = RawValue(text: text, source: "environment variable \(variable)")
        }
    }

    func value(of flag: String) -> String? {
        values[flag]?.text
    }

    /// Takes every setting from the YAML file at `path` instead of the flags and variables read so far
    /// (`--version` aside), as etcd does; keys Etcetera does not support are reported once each.
    mutating func replaceWithConfigFile(_ path: String, readFile: (String) throws -> String) throws {
        let unusable = { (reason: String) in
            LauncherError(code: .configFileUnusable, message: "error verifying flags, \(reason). See 'etcetera --help'.")
        }
        let text: String
        do {
            text = try readFile(path)
        } catch {
            throw unusable("cannot read \(path): \((error as NSError).localizedDescription)")
        }
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch {
            throw unusable("\(path) is not YAML: \(error)")
        }
        var fileValues: [String: RawValue] = [:]
        var fileWarnings = ["loading configuration from \"\(path)\"; other flags and ETCD_* variables are ignored"]
        /// Reads the keys of one mapping: the top level (`section` nil) or a section such as
        /// `client-transport-security`, each flag only where etcd keeps it.
        func read(_ mapping: Node.Mapping, section: String?) throws {
            for (keyNode, valueNode) in mapping {
                guard let key = keyNode.string else { throw unusable("\(path) has a key that is not a string") }
                let qualified = section.map { "\($0).\(key)" } ?? key
                if section == nil, key == FlagDefinition.clientTransportSecurity, let nested = valueNode.mapping {
                    try read(nested, section: key)
                    continue
                }
                guard let definition = FlagDefinition.byName[key], definition.readsEnvironment, key != "config-file",
                      definition.configFileSection == section
                else {
                    fileWarnings.append("ignoring unsupported configuration key \(qualified) in \(path)")
                    continue
                }
                if valueNode.scalar?.string == "~" || valueNode.scalar?.string == "null" || valueNode.scalar?.string == "" { continue }
                guard let scalar = valueNode.scalar else { throw unusable("\(qualified) in \(path) must be a single value, not a list or mapping") }
                fileValues[key] = RawValue(text: scalar.string, source: "key \(qualified) of \(path)", isConfigFileValue: true)
            }
        }
        if let node {
            guard let mapping = node.mapping else { throw unusable("\(path) is not a mapping of etcd's configuration keys") }
            try read(mapping, section: nil)
        }
        if let version = values["version"] { fileValues["version"] = version }
        values = fileValues
        warnings = fileWarnings
    }

    func buildConfiguration() throws -> EtcdConfiguration {
        let name = values["name"]?.text ?? "default"
        var configuration = EtcdConfiguration(name: name, dataDirectory: values["data-dir"]?.text)
        if let raw = values["listen-client-urls"] {
            configuration.listenClientURLs = try urls(raw)
            guard configuration.servedClientURL != nil else {
                throw LauncherError(
                    code: .invalidURL,
                    message: "\(raw.source): no http:// or https:// URL in \"\(raw.text)\" (Etcetera serves TCP client URLs only)"
                )
            }
        }
        if let raw = values["advertise-client-urls"] {
            configuration.advertiseClientURLs = try urls(raw)
        }
        if let raw = values["listen-metrics-urls"] {
            configuration.listenMetricsURLs = try urls(raw)
        }
        if let raw = values["initial-advertise-peer-urls"] {
            let urls = raw.text.split(separator: ",").map { String($0).trimmingSpaces() }.filter { !$0.isEmpty }
            guard !urls.isEmpty, urls.allSatisfy({ $0.contains("://") }) else {
                throw invalid(raw, "expected a comma-separated list of URLs")
            }
            configuration.peerURLs = urls
        }
        if let raw = values["max-txn-ops"] {
            configuration.maxTxnOps = try unsigned(raw)
        }
        if let raw = values["max-request-bytes"] {
            configuration.maxRequestBytes = try unsigned(raw)
        }
        if let raw = values["max-concurrent-streams"] {
            guard let streams = UInt32(raw.text) else { throw invalid(raw, "expected an integer from 0 to 4294967295") }
            configuration.maxConcurrentStreams = streams
        }
        if let raw = values["grpc-keepalive-min-time"] {
            configuration.grpcKeepaliveMinTime = try duration(raw)
        }
        if let raw = values["grpc-keepalive-interval"] {
            configuration.grpcKeepaliveInterval = try duration(raw)
        }
        if let raw = values["grpc-keepalive-timeout"] {
            configuration.grpcKeepaliveTimeout = try duration(raw)
        }
        if let raw = values["client-idle-timeout"] {
            let timeout = try duration(raw)
            guard timeout > .zero else { throw invalid(raw, "expected a positive duration such as 5m") }
            configuration.clientIdleTimeout = timeout
        }
        if let raw = values["log-level"] {
            guard let level = EtcdConfiguration.LogLevel(etcdName: raw.text) else {
                throw invalid(raw, "expected one of debug, info, warn, error")
            }
            configuration.logLevel = level
        }
        if let raw = values["logger"] {
            guard let format = EtcdLogFormat(rawValue: raw.text) else {
                throw invalid(raw, "unknown logger option \"\(raw.text)\" (capnslog or zap)")
            }
            configuration.logFormat = format
        }
        if let raw = values["log-outputs"] {
            let outputs = raw.text.split(separator: ",").map { String($0).trimmingSpaces() }.filter { !$0.isEmpty }
            do {
                configuration.logOutputs = try LogOutputs(outputs, format: configuration.logFormat)
            } catch {
                throw LauncherError(code: error.code, message: "\(raw.source): \(error.message)")
            }
        }
        if let raw = values["quota-backend-bytes"] {
            guard let quota = Int64(raw.text) else { throw invalid(raw, "expected an integer") }
            configuration.quotaBackendBytes = quota
        }
        if let raw = values["auto-compaction-mode"] {
            guard let mode = EtcdConfiguration.AutoCompactionMode(rawValue: raw.text.lowercased()) else {
                throw invalid(raw, "expected periodic or revision")
            }
            configuration.autoCompactionMode = mode
        }
        if let raw = values["auto-compaction-retention"] {
            configuration.autoCompactionRetention = raw.text
        }
        do {
            _ = try AutoCompaction(mode: configuration.autoCompactionMode.rawValue, retention: configuration.autoCompactionRetention)
        } catch {
            throw LauncherError(code: .invalidFlagValue, message: "\(error)")
        }
        if let raw = values["experimental-initial-corrupt-check"] {
            configuration.initialCorruptCheck = try EtcdConfiguration.parseBool(raw.text, flag: "experimental-initial-corrupt-check")
        }
        if let raw = values["experimental-corrupt-check-time"] {
            guard let milliseconds = Self.goDurationMilliseconds(raw.text), milliseconds >= 0 else {
                throw invalid(raw, "expected a duration such as 1h, 5m or 0s")
            }
            configuration.corruptCheckIntervalMilliseconds = milliseconds
        }
        if let raw = values["experimental-compaction-batch-limit"] {
            guard let limit = Int(raw.text), limit >= 0 else { throw invalid(raw, "expected a non-negative integer") }
            // etcd takes 0 for its default.
            configuration.compactionBatchLimit = limit == 0 ? EtcdConfiguration.defaultCompactionBatchLimit : limit
        }
        if let raw = values["cors"] {
            // etcd takes `*` or URLs, as it compares them with the requests' Origin headers.
            let origins = raw.text.split(separator: ",").map { String($0).trimmingSpaces() }.filter { !$0.isEmpty }
            for origin in origins where origin != "*" {
                do {
                    _ = try ClientURL(origin)
                } catch let error as LauncherError {
                    throw LauncherError(code: error.code, message: "\(raw.source): \(error.message)")
                }
            }
            configuration.corsOrigins = origins
        }
        if let raw = values["host-whitelist"] {
            configuration.hostWhitelist = raw.text.split(separator: ",").map { String($0).trimmingSpaces() }.filter { !$0.isEmpty }
        }
        if let raw = values["experimental-enable-lease-checkpoint"] {
            configuration.leaseCheckpoints = try EtcdConfiguration.parseBool(raw.text, flag: "experimental-enable-lease-checkpoint")
        }
        if let raw = values["watch-processes"] {
            guard let count = Int(raw.text), (1...ServicePlan.maximumWatchProcesses).contains(count) else {
                throw invalid(raw, "expected an integer from 1 to \(ServicePlan.maximumWatchProcesses)")
            }
            configuration.watchProcesses = count
        }
        if let raw = values["experimental-watch-progress-notify-interval"] {
            guard let milliseconds = Self.goDurationMilliseconds(raw.text), milliseconds > 0 else {
                throw invalid(raw, "expected a positive duration such as 10m, 5s or 500ms")
            }
            configuration.watchProgressNotifyIntervalMilliseconds = milliseconds
        }
        if let raw = values["bus-listen"] {
            guard let endpoints = KVBusEndpoints(tcp: raw.text) else {
                throw invalid(raw, "expected tcp://HOST:PORT (the event stream takes PORT+1)")
            }
            configuration.busListen = endpoints
        }
        if let raw = values["external-watch-endpoints"] {
            let endpoints = raw.text.split(separator: ",").map { String($0) }
            guard !endpoints.isEmpty, endpoints.allSatisfy({ $0.hasPrefix("tcp://") && $0.count > "tcp://".count }) else {
                throw invalid(raw, "expected comma-separated tcp://HOST:PORT endpoints")
            }
            configuration.externalWatchEndpoints = endpoints
        }
        if let raw = values["bus-curve-keys"] {
            guard !raw.text.isEmpty else { throw invalid(raw, "expected the directory etcetera bus-keys wrote") }
            configuration.busCurveKeys = raw.text
        }
        if let raw = values["bus-insecure"] {
            configuration.busInsecure = try EtcdConfiguration.parseBool(raw.text, flag: "bus-insecure")
        }
        // Go's flag.UintVar, as etcd declares both: any unsigned integer. etcd replaces a TTL of 0 by 300 s
        // and a cost outside 4…31 by 10 where it uses them; so does the auth service.
        if let raw = values["auth-token"] {
            configuration.authToken = raw.text
        }
        if let raw = values["auth-token-ttl"] {
            configuration.authTokenTTL = try unsigned(raw)
        }
        if let raw = values["bcrypt-cost"] {
            configuration.bcryptCost = try unsigned(raw)
        }
        if let raw = values["auth-backend"] {
            guard let backend = AuthBackendChoice(flagValue: raw.text) else {
                throw invalid(raw, "expected builtin, file:PATH, exec:COMMAND or endpoint:REQUESTS,EVENTS (two endpoints such as tcp://host:2395,tcp://host:2396)")
            }
            configuration.authBackend = backend
        }
        configuration.clientTransportSecurity = try clientTransportSecurity()
        if let served = configuration.servedClientURL, served.scheme == "https" {
            let security = configuration.clientTransportSecurity
            guard security.usesAutoTLS || (security.certFile != nil && security.keyFile != nil) else {
                throw LauncherError(
                    code: .invalidFlagValue,
                    message: "TLS key/cert (--cert-file, --key-file) must be provided for client url \(served) with HTTPS scheme"
                )
            }
        }
        return configuration
    }

    private func clientTransportSecurity() throws -> ClientTransportSecurity {
        var security = ClientTransportSecurity()
        security.certFile = values["cert-file"]?.text
        security.keyFile = values["key-file"]?.text
        security.trustedCAFile = values["trusted-ca-file"]?.text
        for (flag, setting) in [("client-cert-auth", \ClientTransportSecurity.clientCertAuth), ("auto-tls", \.autoTLS)] {
            if let raw = values[flag] { security[keyPath: setting] = try EtcdConfiguration.parseBool(raw.text, flag: flag) }
        }
        if let raw = values["cipher-suites"] {
            security.cipherSuites = raw.text.split(separator: ",").map { String($0).trimmingSpaces() }.filter { !$0.isEmpty }
            // etcd refuses a name Go does not know, at start.
            if let unknown = security.cipherSuites.first(where: { GoTLSCipherSuites.codePoint(named: $0) == nil }) {
                throw invalid(raw, "unexpected TLS cipher suite \"\(unknown)\"")
            }
        }
        return security
    }

    /// A Go `time.Duration` string (`1h30m`, `5s`, `250ms`) in whole milliseconds.
    static func goDurationMilliseconds(_ text: String) -> Int? {
        GoDuration.nanoseconds(text).map { Int(($0 + 500_000) / 1_000_000) }
    }

    private func urls(_ raw: RawValue) throws -> [ClientURL] {
        let parts = raw.text.split(separator: ",").map { String($0).trimmingSpaces() }.filter { !$0.isEmpty }
        guard !parts.isEmpty else { throw invalid(raw, "expected a comma-separated list of URLs") }
        do {
            return try parts.map { try ClientURL($0) }
        } catch let error as LauncherError {
            throw LauncherError(code: error.code, message: "\(raw.source): \(error.message)")
        }
    }

    /// A Go duration (`5s`, `2h`, `0`); in a configuration file also an integer of nanoseconds, which
    /// is how etcd reads a `time.Duration` key there.
    private func duration(_ raw: RawValue) throws -> Duration {
        if let nanoseconds = GoDuration.nanoseconds(raw.text) ?? (raw.isConfigFileValue ? Int64(raw.text) : nil) {
            return .nanoseconds(nanoseconds)
        }
        throw invalid(raw, "expected a duration such as 5s, 2h or 500ms")
    }

    private func unsigned(_ raw: RawValue) throws -> UInt64 {
        guard let number = UInt64(raw.text) else { throw invalid(raw, "expected a non-negative integer") }
        return number
    }

    private func invalid(_ raw: RawValue, _ expectation: String) -> LauncherError {
        LauncherError(
            code: .invalidFlagValue,
            message: "invalid value \"\(raw.text)\" for \(raw.source): \(expectation)"
        )
    }

    /// Whether an argument after an unsupported flag is the next flag rather than that flag's value.
    static func looksLikeFlag(_ argument: String) -> Bool {
        if argument.hasPrefix("--") { return true }
        guard argument.hasPrefix("-"), let second = argument.dropFirst().first else { return false }
        return second.isLetter
    }
}

extension EtcdConfiguration {
    /// Go's `strconv.ParseBool`, which etcd uses for boolean flags.
    static func parseBool(_ text: String, flag: String = "version") throws -> Bool {
        switch text {
        case "1", "t", "T", "true", "TRUE", "True": return true
        case "0", "f", "F", "false", "FALSE", "False": return false
        default:
            throw LauncherError(
                code: .invalidFlagValue,
                message: "invalid boolean value \"\(text)\" for flag --\(flag)"
            )
        }
    }
}

extension String {
    func replacingAll(_ character: Character, with replacement: String) -> String {
        var result = ""
        for element in self {
            if element == character {
                result += replacement
            } else {
                result.append(element)
            }
        }
        return result
    }
}
