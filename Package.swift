// swift-tools-version:6.0
import PackageDescription

/// Tram: an edge-gateway agent for Modbus devices.
///
/// Flow (one-way dependencies): Config → Modbus → Schema → Spool → Uplink.
/// The agent-side modules import no Foundation; see docs/architecture.md.
let package = Package(
    name: "tram",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "tramctl", targets: ["tramctl"]),
        .executable(name: "tram-agent", targets: ["tram-agent"]),
        // Libraries for Benchmarks/ (a separate package, so compression libraries and
        // comparison formats never reach the agent's build).
        .library(name: "TramConfig", targets: ["TramConfig"]),
        .library(name: "TramConfigFiles", targets: ["TramConfigFiles"]),
        .library(name: "TramModbus", targets: ["TramModbus"]),
        .library(name: "TramSchema", targets: ["TramSchema"]),
        .library(name: "TramCompression", targets: ["TramCompression"]),
        .library(name: "TramSpool", targets: ["TramSpool"]),
        .library(name: "TramUplink", targets: ["TramUplink"]),
        .library(name: "CAllocationCounter", targets: ["CAllocationCounter"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        // The agent's /metrics: Prometheus text format without Foundation.
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        // C system libraries, each behind one small Swift module.
        .systemLibrary(name: "CModbus", pkgConfig: "libmodbus", providers: [.apt(["libmodbus-dev"])]),
        .systemLibrary(name: "CYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // glibc headers the Glibc module leaves out: sys/timex.h (adjtimex) and malloc.h (mallopt). In libc, nothing to link.
        .systemLibrary(name: "CLinux"),

        // libyaml → a node tree with source marks. Pure: parses bytes, does no I/O.
        .target(name: "TramYAML", dependencies: ["CYAML"]),
        // Device maps: model, decoding, validation, diagnostics. Pure.
        .target(name: "TramConfig", dependencies: ["TramYAML"]),
        // Reads config files from disk for the config layer (swift-system).
        .target(name: "TramConfigFiles", dependencies: [
            "TramConfig", .product(name: "SystemPackage", package: "swift-system"),
        ]),
        // Links, planner, codecs, polling over libmodbus on owned threads.
        .target(name: "TramModbus", dependencies: [
            "TramConfig", "TramThreads", "TramSchema", "CModbus",
            .product(name: "SystemPackage", package: "swift-system"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Tram's wire schema: dictionary and batch frames, allocation-free encoder, safe decoder. Pure.
        .target(name: "TramSchema"),
        // JSON without Foundation: a value, a compact writer with exact 64-bit integers, a strict parser with limits. Pure.
        .target(name: "TramJSON"),
        // The HTTP ingest contract (docs/collector.md): headers, the Tram-Batches runs, every answer body. Pure; the
        // collector encodes the answers and the uplink decodes them with the same types.
        .target(name: "TramIngestProtocol", dependencies: ["TramSchema", "TramJSON"]),
        // The control socket's contract (docs/agent.md): requests and answers. Pure; the agent encodes, tramctl decodes.
        .target(name: "TramControlProtocol", dependencies: ["TramJSON"]),
        // zstd for sealed batches (and the decoder's way back). Kept apart so TramSchema stays pure.
        .target(name: "TramCompression", dependencies: ["TramSchema", "CZstd", "CZlib"]),
        // Influx line protocol from Tram readings: engineering values, field rules, escaping. Pure; the collector's
        // relay and the uplink's line-protocol sink both render with it, so they write the same lines.
        .target(name: "TramLineProtocol", dependencies: ["TramSchema"]),
        // The disk spool: segments of checksummed batches, a ledger of acks and losses, exact books.
        .target(name: "TramSpool", dependencies: [
            "TramConfig", "TramSchema", .product(name: "SystemPackage", package: "swift-system"), .product(name: "Logging", package: "swift-log"),
        ]),
        // Wires the stages (poll → encode → spool → uplink) into the daemon: runtime, control socket, metrics, systemd.
        .target(name: "TramAgent", dependencies: [
            "TramConfig", "TramConfigFiles", "TramModbus", "TramSchema", "TramCompression", "TramSpool", "TramUplink", "TramThreads",
            "TramControlProtocol", "CLinux",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            // The API instrumented libraries report through; AgentMetrics.factory feeds it into the same registry.
            .product(name: "CoreMetrics", package: "swift-metrics"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            .product(name: "SystemPackage", package: "swift-system"),
        ]),
        // A libmodbus server that serves device profiles with changing values.
        .target(name: "TramSimulator", dependencies: ["TramConfig", "TramModbus", "CModbus"]),
        // tramctl's verbs. The technician's tool may use FoundationEssentials via ArgumentParser.
        .target(name: "TramCtl", dependencies: [
            "TramConfig", "TramConfigFiles", "TramModbus", "TramSimulator", "TramSchema", "TramCompression", "TramAgent", "TramSpool", "TramUplink",
            "TramControlProtocol", "TramIngestProtocol",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "SystemPackage", package: "swift-system"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "tramctl", dependencies: ["TramCtl"]),
        // The gateway daemon: a thin main over TramAgent. No ArgumentParser, no Foundation.
        .executableTarget(name: "tram-agent", dependencies: ["TramAgent"]),

        // Helpers shared by the test targets (a seeded generator for property tests).
        .target(name: "TramTestSupport", path: "Tests/TramTestSupport"),
        .testTarget(name: "TramConfigTests", dependencies: ["TramConfig", "TramYAML", "TramModbus", "TramTestSupport"],
                    exclude: ["testcases"]),
        // Counts heap allocations per thread, for the encoder's zero-allocation test.
        .target(name: "CAllocationCounter", path: "Tests/CAllocationCounter"),
        .testTarget(name: "TramSchemaTests", dependencies: ["TramSchema", "TramCompression", "CAllocationCounter", "TramTestSupport"],
                    exclude: ["vectors"]),
        // The child the spool's kill -9 test spawns and kills; found next to the test bundle.
        .executableTarget(name: "tram-spool-crash-child", dependencies: ["SpoolCrashWorkload", "TramSpool", "TramSchema", "TramTestSupport"],
                          path: "Tests/SpoolCrashChild"),
        // What the child appends, derived from identities: shared by the child and the test that checks it.
        .target(name: "SpoolCrashWorkload", dependencies: ["TramSpool", "TramSchema", "TramTestSupport",
                                                           .product(name: "SystemPackage", package: "swift-system")],
                path: "Tests/SpoolCrashWorkload"),
        .testTarget(name: "TramSpoolTests", dependencies: [
            "TramSpool", "SpoolCrashWorkload", "TramConfig", "CAllocationCounter", "TramSchema", "TramTestSupport", .product(name: "SystemPackage", package: "swift-system"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "TramModbusTests", dependencies: [
            "TramModbus", "TramConfig", "TramSimulator", "CModbus", "TramTestSupport", "TramAgent", "TramSchema",
            "TramThreads", "CAllocationCounter", "TramLineProtocol",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Owned OS threads and wakeups, for the loops that call blocking C. No Foundation.
        .target(name: "TramThreads"),
        // Uplink (issue 6): spooled batches to a sink over libcurl, on the uplink's own thread. No Foundation.
        .target(name: "TramUplink", dependencies: [
            "TramSpool", "TramSchema", "TramCompression", "TramLineProtocol", "TramConfig", "TramThreads", "TramIngestProtocol", "CCurl",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "SystemPackage", package: "swift-system"),
        ]),
        .testTarget(name: "TramAgentTests", dependencies: [
            "TramAgent", "TramConfig", "TramModbus", "TramSchema", "TramSpool", "TramUplink", .product(name: "Logging", package: "swift-log"),
        ]),
        // The shared contracts: TramJSON's writer and parser, and a round trip for every ingest and control message.
        .testTarget(name: "TramContractTests", dependencies: ["TramJSON", "TramIngestProtocol", "TramControlProtocol", "TramSchema"]),
        .testTarget(name: "TramUplinkTests", dependencies: ["TramUplink", "TramSpool", "TramSchema", "TramCompression", "TramConfig", "TramIngestProtocol", "TramTestSupport"]),
    ]
)

// MARK: tram-collector (issue 5): the central receiver. Appended as one block so it stays apart from the agent's
// targets; only the collector and its tests use Hummingbird, swift-crypto and SQLite. The agent never links them.
package.products += [
    .executable(name: "tram-collector", targets: ["tram-collector"]),
]
package.dependencies += [
    .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
    .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    // Already in the graph through Hummingbird; named because TLS.swift uses NIOSSL and NIOCore directly.
    .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
]
package.targets += [
    .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
    // Ingest, dedupe, storage, read API and the CLI's verbs (Foundation, Hummingbird, SQLite's C API).
    .target(name: "TramCollector", dependencies: [
        "TramSchema", "TramCompression", "TramLineProtocol", "TramJSON", "TramIngestProtocol", "CSQLite",
        .product(name: "Hummingbird", package: "hummingbird"),
        .product(name: "HummingbirdTLS", package: "hummingbird"),
        .product(name: "HummingbirdCore", package: "hummingbird"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOSSL", package: "swift-nio-ssl"),
        .product(name: "Crypto", package: "swift-crypto"),
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "Logging", package: "swift-log"),
    ]),
    .executableTarget(name: "tram-collector", dependencies: ["TramCollector"]),
    .testTarget(name: "TramCollectorTests", dependencies: [
        "TramCollector", "TramSchema", "TramCompression", "TramLineProtocol", "CSQLite", .product(name: "Logging", package: "swift-log"),
    ]),
]
