// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "siprecd",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "siprecd", targets: ["siprecd"]),
        .executable(name: "siprec-loadgen", targets: ["siprec-loadgen"]),
        .executable(name: "siprecctl", targets: ["siprecctl"]),
        .library(name: "SIPCore", targets: ["SIPCore"]),
        .library(name: "SIPStack", targets: ["SIPStack"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-atomics.git", from: "1.3.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // Pure SIP message model, parser, serializer and multipart splitter.
        .target(
            name: "SIPCore",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // SDP model and parser (pure).
        .target(name: "SDP"),
        // RTP/RTCP parsing, per-stream reordering, codecs (pure; the media engine builds on it).
        .target(name: "Media", dependencies: ["CMediaIO"]),
        // Linux calls of the media path (epoll, recvmmsg, eventfd) and SHA-256 of files (OpenSSL).
        .target(name: "CMediaIO", linkerSettings: [.linkedLibrary("crypto"), .linkedLibrary("srtp2"), .linkedLibrary("bcg729"), .linkedLibrary("spandsp"), .linkedLibrary("opus"), .linkedLibrary("sndfile")]),
        // Spool files, crash repair, archive moves and checksums.
        .target(
            name: "Recording",
            dependencies: ["Media", "CMediaIO", .product(name: "Logging", package: "swift-log")]
        ),
        // RFC 7865 recording metadata (and its pre-RFC dialects), vendor ids, CUCM Built-in-Bridge
        // and CUBE network-based recording identities. Pure; XML through FoundationXML (libxml2).
        .target(name: "SIPRECMetadata"),
        // The RecordingCatalog interface, what it stores of a recording (read from the records
        // journal), list queries, tokens and audit, and the journal ingest (exactly once).
        .target(
            name: "Catalog",
            dependencies: [.product(name: "Logging", package: "swift-log")]
        ),
        // The embedded catalog: SQLite through GRDB.
        .target(
            name: "CatalogSQLite",
            dependencies: ["Catalog", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        // The production catalog: PostgreSQL through PostgresNIO.
        .target(
            name: "CatalogPostgres",
            dependencies: [
                "Catalog",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        // Webhooks: events derived from the records journal, a durable outbox, signed POSTs.
        .target(
            name: "Webhooks",
            dependencies: ["Catalog", "SIPLocator", .product(name: "Logging", package: "swift-log")]
        ),
        // REST admin API, bearer tokens and roles, the web page. Sees RecordingCatalog only.
        .target(
            name: "AdminAPI",
            dependencies: [
                "Catalog",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            resources: [.copy("Web")]
        ),
        // Transactions and dialogs (pure state machines) and the NIO transports.
        .target(
            name: "SIPStack",
            dependencies: [
                "SIPCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        // glibc's stub resolver (res_ninit/res_nquery on a private state) for SRV, NAPTR, A and AAAA.
        .target(name: "CResolv", linkerSettings: [.linkedLibrary("resolv")]),
        // RFC 3263 target location: DNS queries on worker threads, TTL cache, SRV priority
        // and weighted order, NAPTR. No NIO, so siprec-loadgen uses it too.
        .target(name: "SIPLocator", dependencies: ["CResolv"]),
        // Node health (what makes us answer 503), the drain, and replication between nodes
        // (an outbox fed from the records journal, an inbox behind the admin API).
        .target(name: "Cluster", dependencies: ["Catalog", "SIPLocator", .product(name: "Logging", package: "swift-log")]),
        // Composition: configuration, the session controller, buildApplication.
        .target(
            name: "SIPRECServer",
            dependencies: [
                "SIPCore",
                "SDP",
                "SIPRECMetadata",
                "SIPStack",
                "Media",
                "Recording",
                "Catalog",
                "CatalogSQLite",
                "CatalogPostgres",
                "AdminAPI",
                "Webhooks",
                "Cluster",
                "SIPLocator",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .executableTarget(
            name: "siprecd",
            dependencies: [
                "SIPRECServer",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Admin command line over the REST API (token from SIPRECD_TOKEN).
        .executableTarget(
            name: "siprecctl",
            dependencies: [.product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        // libFuzzer entry point for the SIP parser and multipart splitter; built only by
        // `make fuzz` with -sanitize=fuzzer in its own build folder.
        .executableTarget(
            name: "SIPFuzz",
            dependencies: ["SIPCore", "SDP", "SIPRECMetadata", "Media"]
        ),
        // SRC simulator and load generator: SIPREC or Built-in-Bridge calls with paced RTP,
        // then verifies the recordings siprecd wrote (duration, tones, channel alignment).
        .executableTarget(
            name: "siprec-loadgen",
            dependencies: ["Media", "Catalog", "SIPLocator", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        // Parser and UAS state machine throughput and allocations (release build, `make bench-parse`, `make bench-endpoint`).
        .executableTarget(
            name: "siprec-bench",
            dependencies: [
                "SIPCore",
                "SIPStack",
                "SIPRECMetadata",
                "CAllocationCounter",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "bench/Sources/siprec-bench"
        ),
        // Counts allocations in the benchmark process only.
        .target(name: "CAllocationCounter", path: "bench/Sources/CAllocationCounter"),
        // Fixture loading shared by the test targets.
        .target(
            name: "SIPTestSupport",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")],
            path: "Tests/SIPTestSupport"
        ),
        .testTarget(
            name: "SIPCoreTests",
            dependencies: ["SIPCore", "SIPTestSupport"]
        ),
        .testTarget(
            name: "SIPStackTests",
            dependencies: [
                "SIPStack", "SIPCore", "SIPTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "MediaTests",
            dependencies: ["Media", "Recording", "SIPTestSupport", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "SIPRECMetadataTests",
            dependencies: ["SIPRECMetadata", "SIPTestSupport"]
        ),
        .testTarget(
            name: "SIPRECServerTests",
            dependencies: ["SIPRECServer", "SDP", "SIPCore", "SIPRECMetadata", "SIPStack", "SIPTestSupport",
                           .product(name: "NIOCore", package: "swift-nio"),
                           .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "CatalogTests",
            dependencies: ["Catalog", "CatalogSQLite", "CatalogPostgres", "Cluster", "SIPTestSupport",
                           .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                           .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "SIPLocatorTests",
            dependencies: ["SIPLocator", "SIPTestSupport"]
        ),
        .testTarget(
            name: "ClusterTests",
            dependencies: ["Cluster", "Catalog", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "siprecctlTests",
            dependencies: ["siprecctl"]
        ),
        .testTarget(
            name: "WebhooksTests",
            dependencies: ["Webhooks", "Catalog",
                           .product(name: "Hummingbird", package: "hummingbird"),
                           .product(name: "HummingbirdTesting", package: "hummingbird"),
                           .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                           .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "AdminAPITests",
            dependencies: ["AdminAPI", "Catalog", "CatalogSQLite",
                           .product(name: "HummingbirdTesting", package: "hummingbird"),
                           .product(name: "Yams", package: "Yams"),
                           .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "SIPRECServer", "SIPStack", "SIPCore", "SIPTestSupport", "Media", "Catalog", "Webhooks",
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
