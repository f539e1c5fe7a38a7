// swift-tools-version:6.0
import PackageDescription

/// Tram: an edge-gateway agent for Modbus devices.
///
/// Flow (one-way dependencies): Config → Modbus → Batch (readings → wire) → Spool → Uplink.
/// The agent-side modules import no Foundation; see docs/architecture.md.
let package = Package(
    name: "tram",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "tramctl", targets: ["tramctl"]),
        .executable(name: "tram-agent", targets: ["tram-agent"]),
        // Libraries for Benchmarks/ (a separate package, so compression libraries and
        // comparison formats never reach the agent's build).
        .library(name: "TramCore", targets: ["TramCore"]),
        .library(name: "TramConfig", targets: ["TramConfig"]),
        .library(name: "TramConfigFiles", targets: ["TramConfigFiles"]),
        .library(name: "TramModbus", targets: ["TramModbus"]),
        .library(name: "TramSchema", targets: ["TramSchema"]),
        .library(name: "TramCompression", targets: ["TramCompression"]),
        .library(name: "TramSpool", targets: ["TramSpool"]),
        .library(name: "TramBatch", targets: ["TramBatch"]),
        .library(name: "TramReplay", targets: ["TramReplay"]),
        .library(name: "TramStageOptions", targets: ["TramStageOptions"]),
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
        // sd-bus from libsystemd, for ModemManager over D-Bus (docs/builtin-devices.md says why sd-bus).
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),

        // The runtime foundation every stage shares: the clock, the backoff, Duration units, the engineering-value
        // rule. Pure apart from reading the clocks.
        .target(name: "TramCore"),
        .testTarget(name: "TramCoreTests", dependencies: ["TramCore"]),
        // libyaml → a node tree with source marks. Pure: parses bytes, does no I/O.
        .target(name: "TramYAML", dependencies: ["CYAML"]),
        // The built-in devices' points (gateway health, modem) and the modem's technology codes: the contract the agent
        // writes and the collector reads by name. Pure, no dependencies.
        .target(name: "TramBuiltinPoints"),
        // Device maps: model, decoding, validation, diagnostics. Pure.
        .target(name: "TramConfig", dependencies: ["TramYAML", "TramCore", "TramBuiltinPoints"]),
        // Reads config files from disk for the config layer (swift-system).
        .target(
            name: "TramConfigFiles",
            dependencies: [
                "TramConfig", .product(name: "SystemPackage", package: "swift-system"),
            ]),
        // Links, planner, codecs, polling over libmodbus on owned threads.
        .target(
            name: "TramModbus",
            dependencies: [
                "TramConfig", "TramCore", "TramThreads", "CModbus",
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
        .target(name: "TramLineProtocol", dependencies: ["TramSchema", "TramCore"]),
        // The disk spool: segments of checksummed batches, a ledger of acks and losses, exact books.
        .target(
            name: "TramSpool",
            dependencies: [
                "TramSchema", "TramCore", "TramThreads", .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        // Readings → wire: the config → dictionary mapping, a device cycle → one group, and the one BatchBuilder
        // (begin, append, full or due, seal, compress) that the agent's writer and tramctl share.
        .target(
            name: "TramBatch",
            dependencies: [
                "TramConfig", "TramModbus", "TramSchema", "TramCompression", "TramCore", "TramBuiltinPoints",
            ]),
        // Config settings → each stage's own options (spool, uplink): the one place the config model meets the stages.
        .target(
            name: "TramStageOptions",
            dependencies: [
                "TramConfig", "TramSpool", "TramUplink", "TramIngestProtocol",
                .product(name: "SystemPackage", package: "swift-system"),
            ]),
        // Wires the stages (poll → encode → spool → uplink) into the daemon: runtime, control socket, metrics, systemd.
        .target(
            name: "TramAgent",
            dependencies: [
                "TramConfig", "TramConfigFiles", "TramModbus", "TramSchema", "TramBatch", "TramSpool", "TramUplink",
                "TramStageOptions", "TramModem", "TramBuiltinPoints", "TramWrite",
                "TramThreads", "TramCore", "TramControlProtocol", "CLinux",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                // The API instrumented libraries report through; AgentMetrics.factory feeds it into the same registry.
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]),
        // Read-only D-Bus calls over sd-bus on the caller's own thread: properties, GetManagedObjects. No Foundation.
        .target(name: "TramDBus", dependencies: ["CSystemd"]),
        // The built-in `modem` device: ModemManager's modem, signal, operator and serving cell as one fixed point set.
        .target(
            name: "TramModem",
            dependencies: [
                "TramDBus", "TramConfig", "TramModbus", "TramCore", "TramBuiltinPoints",
                .product(name: "Logging", package: "swift-log"),
            ]),
        // A libmodbus server that serves device profiles with changing values.
        // The replay check of report by exception: the agent's own encoder and filter, a consumer's step-hold, the bound.
        .target(
            name: "TramReplay",
            dependencies: ["TramBatch", "TramCompression", "TramModbus", "TramSchema", "TramCore"]),
        .target(name: "TramSimulator", dependencies: ["TramConfig", "TramModbus", "TramCore", "CModbus"]),
        // Guarded writes: a value → the words and function code for a writable point or an address, the guards both
        // tramctl and the agent apply, the write with its read-back on a link, and its audit line.
        .target(name: "TramWrite", dependencies: ["TramConfig", "TramModbus", "TramCore", "TramControlProtocol"]),
        // tramctl's verbs. The technician's tool may use FoundationEssentials via ArgumentParser.
        .target(
            name: "TramCtl",
            dependencies: [
                "TramConfig", "TramConfigFiles", "TramModbus", "TramSimulator", "TramSchema", "TramCompression",
                "TramBatch", "TramSpool", "TramUplink",
                "TramStageOptions", "TramCore", "TramControlProtocol", "TramIngestProtocol", "TramWrite",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .executableTarget(name: "tramctl", dependencies: ["TramCtl"]),
        .testTarget(name: "TramWriteTests", dependencies: ["TramWrite", "TramConfig"]),
        .testTarget(name: "TramCtlTests", dependencies: ["TramCtl", "TramConfig", "TramModbus"]),
        // The gateway daemon: a thin main over TramAgent. No ArgumentParser, no Foundation.
        .executableTarget(name: "tram-agent", dependencies: ["TramAgent"]),

        // Helpers shared by the test targets (a seeded generator for property tests).
        .target(name: "TramTestSupport", path: "Tests/TramTestSupport"),
        .testTarget(
            name: "TramConfigTests",
            dependencies: [
                "TramConfig", "TramConfigFiles", "TramYAML", "TramModbus", "TramTestSupport", "TramBuiltinPoints",
            ],
            exclude: ["testcases"]),
        // Counts heap allocations per thread, for the encoder's zero-allocation test.
        .target(name: "CAllocationCounter", path: "Tests/CAllocationCounter"),
        .testTarget(
            name: "TramSchemaTests",
            dependencies: ["TramSchema", "TramCore", "TramCompression", "CAllocationCounter", "TramTestSupport"],
            exclude: ["vectors"]),
        // The child the spool's kill -9 test spawns and kills; found next to the test bundle.
        .executableTarget(
            name: "tram-spool-crash-child",
            dependencies: ["SpoolCrashWorkload", "TramSpool", "TramSchema", "TramCore", "TramTestSupport"],
            path: "Tests/SpoolCrashChild"),
        // What the child appends, derived from identities: shared by the child and the test that checks it.
        .target(
            name: "SpoolCrashWorkload",
            dependencies: [
                "TramSpool", "TramSchema", "TramCore", "TramTestSupport",
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            path: "Tests/SpoolCrashWorkload"),
        .testTarget(
            name: "TramSpoolTests",
            dependencies: [
                "TramSpool", "SpoolCrashWorkload", "TramConfig", "TramStageOptions", "CAllocationCounter", "TramSchema",
                "TramCore", "TramTestSupport", .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(
            name: "TramModbusTests",
            dependencies: [
                "TramModbus", "TramConfig", "TramSimulator", "CModbus", "TramTestSupport", "TramAgent", "TramBatch",
                "TramSchema",
                "TramThreads", "CAllocationCounter", "TramLineProtocol", "TramCore",
                .product(name: "Logging", package: "swift-log"),
            ]),
        // Owned OS threads and wakeups, for the loops that call blocking C. No Foundation.
        .target(name: "TramThreads", dependencies: ["TramCore"]),
        // Uplink: spooled batches to a sink over libcurl, on the uplink's own thread. No Foundation.
        .target(
            name: "TramUplink",
            dependencies: [
                "TramSpool", "TramSchema", "TramCompression", "TramLineProtocol", "TramThreads", "TramIngestProtocol",
                "TramCore", "CCurl",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]),
        .testTarget(
            name: "TramAgentTests",
            dependencies: [
                "TramAgent", "TramConfig", "TramConfigFiles", "TramModbus", "TramSchema", "TramBatch", "TramSpool",
                "TramUplink", "TramStageOptions", "TramCore", .product(name: "Logging", package: "swift-log"),
            ], exclude: ["reloadcases"]),
        .testTarget(
            name: "TramModemTests",
            dependencies: ["TramModem", "TramConfig", "TramModbus", "TramCore", "TramDBus", "TramBuiltinPoints"]),
        .testTarget(
            name: "TramUplinkTests",
            dependencies: [
                "TramUplink", "TramSpool", "TramSchema", "TramCompression", "TramConfig", "TramCore",
                "TramStageOptions", "TramIngestProtocol", "TramTestSupport",
            ]),
        .testTarget(
            name: "TramBatchTests",
            dependencies: [
                "TramBatch", "TramConfig", "TramModbus", "TramSchema", "TramCompression", "TramSimulator", "TramCore",
                "CAllocationCounter", "TramReplay",
                "TramTestSupport", .product(name: "Logging", package: "swift-log"),
            ]),
        // The shared contracts: TramJSON's writer and parser, and a round trip for every ingest and control message.
        .testTarget(
            name: "TramContractTests",
            dependencies: ["TramJSON", "TramIngestProtocol", "TramControlProtocol", "TramSchema", "TramTestSupport"]),
    ]
)

// MARK: tram-collector: the central receiver. Appended as one block so it stays apart from the agent's
// targets; only the collector and its tests use Hummingbird, swift-crypto and SQLite. The agent never links them.
package.products += [
    .executable(name: "tram-collector", targets: ["tram-collector"]),
    // For the Benchmarks package's `tram-bench collector` and `tram-bench console`.
    .library(name: "TramCollector", targets: ["TramCollector"]),
    .library(name: "TramCollectorStore", targets: ["TramCollectorStore"]),
    .library(name: "TramCollectorRelay", targets: ["TramCollectorRelay"]),
    .library(name: "TramCollectorTestSupport", targets: ["TramCollectorTestSupport"]),
    .library(name: "TramCollectorConsole", targets: ["TramCollectorConsole"]),
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
    // The SQLite store: schema, enrollment and tokens, ingest writes with dedupe, reads, retention (SQLite's C API).
    .target(
        name: "TramCollectorStore",
        dependencies: [
            "TramSchema", "TramLineProtocol", "TramCore", "CSQLite", "TramBuiltinPoints",
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
    // The relay to VictoriaMetrics or InfluxDB: its durable position in the store, line protocol, its HTTP client.
    .target(
        name: "TramCollectorRelay",
        dependencies: [
            "TramCollectorStore", "TramLineProtocol", "TramCore",
            .product(name: "Logging", package: "swift-log"),
        ]),
    // The HTTP server (Hummingbird): ingest, the read API, /health, /metrics, TLS and mTLS, rate limits, retention passes.
    .target(
        name: "TramCollector",
        dependencies: [
            "TramCollectorStore", "TramCollectorRelay", "TramCollectorConsole", "TramSchema", "TramCompression",
            "TramJSON", "TramIngestProtocol", "TramCore",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdTLS", package: "hummingbird"),
            .product(name: "HummingbirdCore", package: "hummingbird"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Logging", package: "swift-log"),
        ]),
    // The console: server-rendered pages for people (fleet, gateway, device, problems, report), sessions, SVG plots.
    .target(
        name: "TramCollectorConsole",
        dependencies: [
            "TramCollectorStore", "TramBuiltinPoints", "TramCompression", "TramCore", "TramJSON",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
    .testTarget(
        name: "TramCollectorConsoleTests",
        dependencies: [
            "TramCollectorConsole", "TramCollectorStore", "TramCompression", "TramSchema", "TramTestSupport",
            "TramBuiltinPoints",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdTesting", package: "hummingbird"),
        ]),
    // tram-collector's verbs (serve, gateway, token, relay status).
    .target(
        name: "TramCollectorCLI",
        dependencies: [
            "TramCollector", "TramCollectorStore", "TramCollectorRelay", "TramCollectorConsole", "TramIngestProtocol",
            "TramSchema", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
    .executableTarget(name: "tram-collector", dependencies: ["TramCollectorCLI"]),
    // A blocking loopback HTTP client, for the collector's tests and its benchmark; not in the shipped binary.
    .target(
        name: "TramCollectorTestSupport", dependencies: ["TramCollectorRelay"], path: "Tests/TramCollectorTestSupport"),
    .testTarget(
        name: "TramCollectorTests",
        dependencies: [
            "TramCollector", "TramCollectorStore", "TramCollectorRelay", "TramCollectorTestSupport",
            "TramSchema", "TramCompression", "TramLineProtocol", "CSQLite", "TramTestSupport",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "InMemoryLogging", package: "swift-log"),
        ]),
]
