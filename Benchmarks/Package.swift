// swift-tools-version:6.0
import PackageDescription

/// Tram's benchmarks: commands that print figures (see the README's Performance section).
/// A package of its own, so that zlib, zstd and the comparison formats (swift-protobuf for Sparkplug B) stay out of the agent's build.
let package = Package(
    name: "tram-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "tram", path: ".."),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
    ],
    targets: [
        .systemLibrary(name: "CModbusFloor", pkgConfig: "libmodbus", providers: [.apt(["libmodbus-dev"])]),
        // Counts fdatasync and fsync calls by interposing them in the tram-bench binary (the spool benchmark's fsyncs/s).
        .target(name: "CSyncCounter"),
        .executableTarget(name: "tram-bench", dependencies: [
            "CModbusFloor", "CSyncCounter",
            .product(name: "TramConfig", package: "tram"),
            .product(name: "TramConfigFiles", package: "tram"),
            .product(name: "TramModbus", package: "tram"),
            .product(name: "TramSchema", package: "tram"),
            .product(name: "TramCompression", package: "tram"),
            .product(name: "TramSpool", package: "tram"),
            .product(name: "TramUplink", package: "tram"),
            .product(name: "CAllocationCounter", package: "tram"),
            // tram-bench rbe: the replay of report by exception through the agent's batch builder.
            .product(name: "TramBatch", package: "tram"),
            .product(name: "TramReplay", package: "tram"),
            // tram-bench collector: the collector's server and store in process, posting with the tests' loopback client.
            .product(name: "TramCollector", package: "tram"),
            .product(name: "TramCollectorStore", package: "tram"),
            .product(name: "TramCollectorRelay", package: "tram"),
            .product(name: "TramCollectorTestSupport", package: "tram"),
            // tram-bench console: the console's settings (its time zone).
            .product(name: "TramCollectorConsole", package: "tram"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            .product(name: "SystemPackage", package: "swift-system"),
        ]),
    ]
)
