// libFuzzer entry point for the config layer: libyaml → YAMLParser → DeviceMapLoader.
// Not a SwiftPM target (it needs -sanitize=fuzzer); see README.md in this folder for the build command.

import TramConfig
import TramYAML

/// The fuzzed bytes at one path, next to a small valid profile (`Devices/fz/meter.yaml`) and an agent file that
/// uses the fuzzed bytes as its profile (`Devices/fz/input.yaml`). The input is passed as raw bytes, because
/// ``InMemoryConfigSource`` holds text and would repair invalid UTF-8 before libyaml sees it.
private struct FuzzSource: ConfigSource {
    static let fixed = InMemoryConfigSource([
        "Devices/fz/meter.yaml": """
            profile: { vendor: Fuzz, model: meter, source: "fuzz harness" }
            address_base: 0
            defaults: { table: input, type: float32 }
            limits: { max_registers: 80, even_count: true }
            points:
              - { name: v, address: 0 }
              - { name: W_SF, address: 2, type: int16 }
              - { name: W, address: 3, type: int16, scale_from: W_SF }
            """,
        "host.yaml": """
            gateway: { id: fz }
            links: [{ name: l, url: "rtu:///dev/ttyFZ" }, { name: t, url: "tcp://127.0.0.1" }]
            devices:
              - { name: a, link: l, unit: 1, profile: fz/input }
              - { name: b, link: t, unit: 2, profile: fz/input, limits: { max_registers: 4, even_count: true } }
              - { name: c, link: l, unit: 3, profile: fz/meter }
            """,
    ])

    let input: [UInt8]

    func contents(of path: String) -> [UInt8]? {
        switch ConfigPath.normalize(path) {
        case "agent.yaml", "profile.yaml", "Devices/fz/input.yaml": input
        case let other: Self.fixed.contents(of: other)
        }
    }

    func yamlFiles(under directory: String) -> [String] {
        var files = Self.fixed.yamlFiles(under: directory)
        if ConfigPath.normalize(directory) == "Devices" { files.append("fz/input.yaml") }
        return files.sorted()
    }
}

/// A result breaks the loader's contract when a nil value comes without an error, a value comes
/// with errors, or a diagnostic has no place: trap, so that libFuzzer keeps the input.
private func check<Value>(_ result: DeviceMapLoader.Result<Value>, _ what: StaticString) {
    let hasErrors = result.diagnostics.contains { $0.severity == .error }
    if result.value == nil && !hasErrors { fatalError("\(what): nil without an error: \(result.diagnostics)") }
    if result.value != nil && hasErrors { fatalError("\(what): a value despite errors: \(result.diagnostics)") }
    for diagnostic in result.diagnostics where diagnostic.location.mark.line < 1 || diagnostic.location.mark.column < 1 {
        fatalError("\(what): diagnostic without a place: \(diagnostic)")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func loaderFuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    _ = try? YAMLParser.parse(bytes)
    let loader = DeviceMapLoader(source: FuzzSource(input: bytes))
    check(loader.loadAgent("agent.yaml"), "agent")
    check(loader.loadProfile("profile.yaml"), "profile")
    check(loader.loadAgent("host.yaml"), "agent with the input as its profile")
    _ = loader.isProfile("agent.yaml")
    // The text path tramctl's tests use: InMemoryConfigSource, after UTF-8 repair.
    let text = String(decoding: bytes, as: UTF8.self)
    check(DeviceMapLoader(source: InMemoryConfigSource(["p.yaml": text])).loadProfile("p.yaml"), "profile from text")
    return 0
}
