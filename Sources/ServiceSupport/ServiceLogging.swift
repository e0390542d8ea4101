import Logging

/// Logging set-up shared by every service executable, so they all accept etcd's `--log-level` names
/// and write one line per event to standard error (the launcher passes it through).
public enum ServiceLogging {
    /// Maps etcd's level names (`debug`, `info`, `warn`, `error`, plus `panic`/`fatal`) to swift-log's.
    public static func level(named name: String) -> Logger.Level? {
        switch name.lowercased() {
        case "debug": .debug
        case "info": .info
        case "warn", "warning": .warning
        case "error": .error
        case "panic", "fatal", "critical": .critical
        default: nil
        }
    }

    /// Bootstraps swift-log once per process and returns the service's logger.
    public static func bootstrap(label: String, level name: String) -> Logger {
        let level = level(named: name) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        var logger = Logger(label: label)
        logger.logLevel = level
        if Self.level(named: name) == nil {
            logger.warning("unknown log level, using info", metadata: ["log-level": "\(name)"])
        }
        return logger
    }
}
