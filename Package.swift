// swift-tools-version: 6.1
import PackageDescription

let grpcCore: Target.Dependency = .product(name: "GRPCCore", package: "grpc-swift-2")
let grpcTransport: Target.Dependency = .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport")
let logging: Target.Dependency = .product(name: "Logging", package: "swift-log")
let serviceLifecycle: Target.Dependency = .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")
let nioCore: Target.Dependency = .product(name: "NIOCore", package: "swift-nio")
let argumentParser: Target.Dependency = .product(name: "ArgumentParser", package: "swift-argument-parser")

let package = Package(
    name: "Etcetera",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "etcetera", targets: ["etcetera"]),
        .executable(name: "etcetera-kv", targets: ["etcetera-kv"]),
        .executable(name: "etcetera-gateway", targets: ["etcetera-gateway"]),
        .executable(name: "etcetera-watch", targets: ["etcetera-watch"]),
        .executable(name: "etcetera-lease", targets: ["etcetera-lease"]),
        .executable(name: "etcetera-maintenance", targets: ["etcetera-maintenance"]),
        .executable(name: "etcetera-auth", targets: ["etcetera-auth"]),
        .executable(name: "etcetera-auth-file", targets: ["etcetera-auth-file"]),
        .executable(name: "etcetera-bench", targets: ["etcetera-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0", traits: []),
        .package(url: "https://github.com/grpc/grpc-swift-2.git", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport.git", from: "2.9.2"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-http2.git", from: "1.46.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.7.1"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "5.0.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // System libraries, linked from Debian's packages (libzmq3-dev, libleveldb-dev, libcrypt-dev).
        .systemLibrary(name: "CZeroMQ", path: "Sources/CZeroMQ"),
        .systemLibrary(name: "CLevelDB", path: "Sources/CLevelDB"),
        .systemLibrary(name: "CCrypt", path: "Sources/CCrypt"),

        // Shared libraries.
        .target(
            name: "EtceteraAPI",
            dependencies: [
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                grpcCore,
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
            ]
        ),
        .target(name: "Bus", dependencies: ["CZeroMQ", logging]),
        .target(name: "Storage", dependencies: ["CLevelDB", logging]),
        .target(name: "ServiceSupport", dependencies: [logging, serviceLifecycle]),
        .target(name: "ServiceStartup", dependencies: ["Bus", "Cluster", "ServiceSupport", argumentParser, logging, serviceLifecycle]),
        .target(name: "KVClient", dependencies: ["Bus", "EtceteraAPI", logging]),
        .target(name: "Cluster", dependencies: ["EtceteraAPI"]),
        .target(name: "Lease", dependencies: ["Storage"]),
        // etcd's auth model and the permission decision, without storage: what the gateway links.
        .target(
            name: "Auth",
            dependencies: [
                "CCrypt", "ServiceSupport", .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // The auth store persisted in its own storage: what etcetera-auth serves.
        .target(name: "AuthStorage", dependencies: ["Auth", "Storage"]),
        .target(name: "Snapshot", dependencies: ["Storage", .product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "GRPCWire", dependencies: [nioCore, .product(name: "NIOHTTP2", package: "swift-nio-http2")]),

        // Service libraries: the logic of each executable, testable in-process.
        .target(name: "MVCC", dependencies: ["Storage", "Snapshot", "EtceteraAPI"]),
        .target(name: "Watch", dependencies: ["EtceteraAPI"]),
        .target(name: "Maintenance", dependencies: ["EtceteraAPI", "ServiceSupport"]),
        .target(name: "WatchService", dependencies: ["Watch", "Bus", "KVClient", "EtceteraAPI", "ServiceSupport", logging, serviceLifecycle]),
        .target(name: "LeaseService", dependencies: ["Lease", "Bus", "KVClient", "Storage", "EtceteraAPI", "ServiceSupport", logging, serviceLifecycle]),
        .target(
            name: "MaintenanceService",
            dependencies: ["Maintenance", "Cluster", "Bus", "KVClient", "EtceteraAPI", "ServiceSupport", logging, serviceLifecycle]
        ),
        .target(name: "AuthService", dependencies: ["Auth", "AuthStorage", "Bus", "Storage", "EtceteraAPI", "ServiceSupport", logging, serviceLifecycle]),
        .target(name: "KVService", dependencies: ["MVCC", "Snapshot", "Bus", "Storage", "EtceteraAPI", logging, serviceLifecycle]),
        .target(
            name: "Gateway",
            dependencies: [
                "Auth", "Bus", "Cluster", "EtceteraAPI", "GRPCWire", "ServiceSupport", logging, serviceLifecycle, nioCore,
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
            ]
        ),
        .target(
            name: "Launcher",
            dependencies: [
                "ServiceSupport", "Cluster", "Maintenance", "Snapshot", "MVCC", "Lease", "Storage", "Auth", logging, .product(name: "Yams", package: "Yams"),
                .product(name: "X509", package: "swift-certificates"), .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "Benchmarking",
            dependencies: [
                "EtceteraAPI", "GRPCWire", nioCore,
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
            ]
        ),

        // Executables: thin mains that parse configuration and wire the libraries together.
        .executableTarget(name: "etcetera", dependencies: ["Bus", "Launcher", "ServiceSupport", argumentParser, logging]),
        .executableTarget(name: "etcetera-kv", dependencies: ["ServiceStartup", "Bus", "KVService", "ServiceSupport", "Storage", "MVCC", argumentParser, logging, serviceLifecycle]),
        .executableTarget(name: "etcetera-watch", dependencies: ["ServiceStartup", "Bus", "WatchService", "ServiceSupport", argumentParser, logging, serviceLifecycle]),
        .executableTarget(name: "etcetera-lease", dependencies: ["ServiceStartup", "Bus", "LeaseService", "ServiceSupport", "Storage", argumentParser, logging, serviceLifecycle]),
        .executableTarget(
            name: "etcetera-maintenance",
            dependencies: ["ServiceStartup", "Bus", "MaintenanceService", "Maintenance", "Cluster", "ServiceSupport", argumentParser, logging, serviceLifecycle]
        ),
        .executableTarget(name: "etcetera-auth", dependencies: ["ServiceStartup", "Bus", "AuthService", "ServiceSupport", "Storage", argumentParser, logging, serviceLifecycle]),
        .executableTarget(name: "etcetera-gateway", dependencies: ["ServiceStartup", "Bus", "Gateway", "ServiceSupport", argumentParser, logging, serviceLifecycle]),
        .executableTarget(name: "etcetera-bench", dependencies: ["Benchmarking", argumentParser]),

        // Plugins: alternative backends for the bus contracts (Plugins/README.md).
        .target(
            name: "AuthFileBackend", dependencies: ["Auth", logging], path: "Plugins/AuthFileBackend/Sources/AuthFileBackend"),
        .executableTarget(
            name: "etcetera-auth-file",
            dependencies: ["ServiceStartup", "AuthFileBackend", "AuthService", "Auth", "ServiceSupport", argumentParser, logging, serviceLifecycle],
            path: "Plugins/AuthFileBackend/Sources/etcetera-auth-file"),

        // Tests.
        .target(name: "TestSupport", dependencies: ["EtceteraAPI", "Bus", grpcCore, grpcTransport], path: "Tests/TestSupport"),
        .testTarget(name: "BusTests", dependencies: ["Bus", "CZeroMQ", "TestSupport"]),
        .testTarget(name: "StorageTests", dependencies: ["Storage"]),
        .testTarget(
            name: "LauncherTests",
            dependencies: [
                "Launcher", "ServiceSupport", "MVCC", "Lease", "Snapshot", "Storage", "EtceteraAPI",
                .product(name: "X509", package: "swift-certificates"),
            ]
        ),
        .testTarget(name: "LeaseTests", dependencies: ["Lease", "Storage"]),
        .testTarget(name: "AuthTests", dependencies: ["Auth", "AuthStorage", "Storage", .product(name: "JWTKit", package: "jwt-kit")]),
        .testTarget(name: "WatchTests", dependencies: ["Watch", "MVCC", "Storage", "EtceteraAPI"]),
        .testTarget(name: "MVCCTests", dependencies: ["MVCC", "Snapshot", "Storage", "EtceteraAPI"]),
        .testTarget(name: "SnapshotTests", dependencies: ["Snapshot", .product(name: "Crypto", package: "swift-crypto")]),
        .testTarget(name: "MaintenanceTests", dependencies: ["Maintenance", "Cluster", "ServiceSupport", "EtceteraAPI"]),
        .testTarget(name: "AuthServiceTests", dependencies: ["AuthService", "Auth", "Bus", "Storage", "EtceteraAPI", "TestSupport", logging]),
        .testTarget(name: "AuthFileBackendTests", dependencies: ["AuthFileBackend", "Auth", logging]),
        .testTarget(name: "AuthBackendContractTests", dependencies: ["TestSupport", "Auth", "Bus", "CZeroMQ", "EtceteraAPI", logging]),
        .testTarget(name: "KVServiceTests", dependencies: ["KVService", "MVCC", "Snapshot", "Storage", "Bus", "EtceteraAPI", "TestSupport", logging]),
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "TestSupport", "Bus", "Storage", "EtceteraAPI", grpcCore, grpcTransport, logging,
                .product(name: "Yams", package: "Yams"), .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            resources: [.copy("Fixtures/etcd-api.protoset")]
        ),
    ]
)

// Fuzz targets (docs/reliability.md, "Fuzzing"): libFuzzer executables, declared only when
// scripts/fuzz.sh builds them (ETCETERA_FUZZ=1, scratch path .build-fuzz, `-sanitize=fuzzer,address`),
// because they link libFuzzer's main; the normal build never sees them.
if Context.environment["ETCETERA_FUZZ"] != nil {
    package.targets += [
        .systemLibrary(name: "CLibFuzzer", path: "Fuzz/CLibFuzzer"),
        .target(name: "FuzzSupport", dependencies: ["CLibFuzzer"], path: "Fuzz/FuzzSupport"),
        .executableTarget(
            name: "FuzzGRPCRequests",
            dependencies: [
                "FuzzSupport", "EtceteraAPI", "GRPCWire", "Lease", "MVCC", "Storage", nioCore,
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            path: "Fuzz/FuzzGRPCRequests"),
        .executableTarget(
            name: "FuzzJSONGateway", dependencies: ["FuzzSupport", "Gateway", "EtceteraAPI", .product(name: "NIOHTTP1", package: "swift-nio")],
            path: "Fuzz/FuzzJSONGateway"),
        .executableTarget(
            name: "FuzzBus",
            dependencies: [
                "FuzzSupport", "AuthService", "Bus", "CZeroMQ", "Cluster", "EtceteraAPI", "KVService", "LeaseService", "MaintenanceService",
                "MVCC", "Storage", "WatchService", logging,
            ],
            path: "Fuzz/FuzzBus"),
        .executableTarget(
            name: "FuzzSnapshotReader", dependencies: ["FuzzSupport", "Snapshot", .product(name: "Crypto", package: "swift-crypto")],
            path: "Fuzz/FuzzSnapshotReader"),
        .executableTarget(name: "FuzzAuthFile", dependencies: ["FuzzSupport", "AuthFileBackend"], path: "Fuzz/FuzzAuthFile"),
    ]
}
