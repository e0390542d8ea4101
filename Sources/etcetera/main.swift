import Bus
import Foundation
import Launcher
import ServiceSupport
import Logging

ChildTrampoline.execIfRequested(CommandLine.arguments)

if CommandLine.arguments.dropFirst().first == "snapshot" {
    do {
        let command = try SnapshotCommand.parse(Array(CommandLine.arguments.dropFirst(2)))
        print(try command.run(workingDirectory: FileManager.default.currentDirectoryPath), terminator: "")
        exit(0)
    } catch {
        FileHandle.standardError.write(Data("Error: \(error)\n".utf8))
        exit(1)
    }
}

if CommandLine.arguments.dropFirst().first == "bus-keys" {
    let arguments = Array(CommandLine.arguments.dropFirst(2))
    do {
        switch arguments.count {
        case 1:
            let keys = try BusCurveKeys.generate(into: arguments[0])
            print("CURVE keys written to \(arguments[0]) (server public key \(keys.serverPublicKey))")
        case 3 where arguments[0] == "--client":
            let own = try BusCurveKeys.generateClient(named: arguments[1], in: arguments[2])
            print("client \(arguments[1]) admitted by the servers using \(arguments[2]); copy \(own) to its machine as its --bus-curve-keys directory")
        default:
            FileHandle.standardError.write(Data("Usage: etcetera bus-keys DIR | etcetera bus-keys --client NAME DIR\n".utf8))
            exit(1)
        }
        exit(0)
    } catch {
        FileHandle.standardError.write(Data("Error: \(error)\n".utf8))
        exit(1)
    }
}

let request: EtcdConfiguration.LaunchRequest
do {
    request = try EtcdConfiguration.parse(
        arguments: Array(CommandLine.arguments.dropFirst()),
        environment: ProcessInfo.processInfo.environment
    )
} catch {
    FileHandle.standardError.write(Data("etcetera: \(error)\n".utf8))
    exit(1)
}

switch request.action {
case .printVersion:
    print(EtceteraVersion.lines.joined(separator: "\n"))
    exit(0)
case .printHelp:
    print(EtcdConfiguration.usage)
    exit(0)
case .run:
    break
}

let configuration = request.configuration
do {
    try configuration.logOutputs.redirectStandardError()
} catch {
    FileHandle.standardError.write(Data("etcetera: \(error)\n".utf8))
    exit(1)
}
let logLevel = configuration.logLevel.loggerLevel
LoggingSystem.bootstrap { label in
    var handler = StreamLogHandler.standardError(label: label)
    handler.logLevel = logLevel
    return handler
}
let logger = Logger(label: "etcetera")
for warning in request.warnings {
    logger.warning("\(warning)")
}
do {
    if let warning = try BusTransportSecurity.check(
        endpoints: configuration.busEndpoints, curveKeysDirectory: configuration.busCurveKeys, insecure: configuration.busInsecure)
    {
        logger.warning("\(warning)")
    }
} catch {
    logger.critical("\(error)")
    exit(1)
}

let supervisor: Supervisor
do {
    let plan = try ServicePlan(
        configuration: configuration,
        workingDirectory: FileManager.default.currentDirectoryPath
    )
    try plan.clientURL.ensureAddressAvailable()
    if let selfSigned = plan.selfSignedCertificate {
        do {
            try selfSigned.ensureExists()
        } catch {
            throw LauncherError(code: .directoryUnusable, message: "failed to get client self-signed certs: \(error)")
        }
        logger.info("client TLS: self-signed cert = \(selfSigned.certificatePath), key = \(selfSigned.keyPath)")
    }
    logger.info("starting etcetera \(EtceteraVersion.current) (etcd API \(EtceteraVersion.etcdAPI))")
    logger.info("name = \(configuration.name), data dir = \(plan.dataDirectory), bus = \(plan.bus.directory)")
    supervisor = Supervisor(
        configuration: Supervisor.Configuration(
            plan: plan,
            locator: .besideRunningExecutable(environment: ProcessInfo.processInfo.environment),
            logFormat: configuration.logFormat,
            trampoline: ExecutableLocator.runningExecutablePath
        ),
        logger: logger
    )
} catch {
    logger.critical("\(error)")
    exit(1)
}

let signals = TerminationSignals { [logger, supervisor] signal in
    logger.info("received signal \(signal), shutting down")
    supervisor.requestShutdown()
}

do {
    try supervisor.run()
} catch {
    logger.critical("\(error)")
    exit(1)
}
signals.cancel()
exit(0)
