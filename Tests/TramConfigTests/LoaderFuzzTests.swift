import Testing
import TramTestSupport
import TramConfig
import TramYAML

/// Raw bytes by path: unlike ``InMemoryConfigSource`` it can hold invalid UTF-8.
private struct ByteSource: ConfigSource {
    var files: [String: [UInt8]]

    func contents(of path: String) -> [UInt8]? { files[ConfigPath.normalize(path)] }

    func yamlFiles(under directory: String) -> [String] {
        let prefix = ConfigPath.normalize(directory) + "/"
        return files.keys.filter { $0.hasPrefix(prefix) && $0.hasSuffix(".yaml") }.map {
            String($0.dropFirst(prefix.count))
        }.sorted()
    }
}

/// One file to mutate, with the files it needs beside it (an agent file's profiles).
private struct Seed {
    var path: String
    var bytes: [UInt8]
    var companions: [String: [UInt8]]
}

private enum FuzzCorpus {
    /// Every YAML file of the config test cases, and the real profiles and demo agent of the repository.
    static let seeds: [Seed] = {
        var seeds: [Seed] = []
        let cases = ConfigCases.root
        for name in ConfigCases.names {
            let directory = cases + "/" + name
            var files: [String: [UInt8]] = [:]
            for path in TestFiles.filesRecursively(directory) where path.hasSuffix(".yaml") {
                files[path] = TestFiles.read(directory + "/" + path)
            }
            for (path, bytes) in files {
                seeds.append(Seed(path: path, bytes: bytes, companions: files.filter { $0.key != path }))
            }
        }
        let root = TestFiles.packageRoot
        var profiles: [String: [UInt8]] = [:]
        for path in TestFiles.filesRecursively(root + "/Devices") where path.hasSuffix(".yaml") {
            profiles["Devices/" + path] = TestFiles.read(root + "/Devices/" + path)
        }
        for (path, bytes) in profiles { seeds.append(Seed(path: path, bytes: bytes, companions: [:])) }
        if let demo = TestFiles.read(root + "/deploy/demo/agent.yaml") {
            // `profiles: ../../Devices` from deploy/demo/ finds Devices/.
            seeds.append(Seed(path: "deploy/demo/agent.yaml", bytes: demo, companions: profiles))
        }
        return seeds.sorted {
            $0.path < $1.path || ($0.path == $1.path && $0.bytes.lexicographicallyPrecedes($1.bytes))
        }
    }()
}

/// Mutations in the spirit of a byte-level fuzzer, biased towards what YAML and Tram's syntax care about.
private enum Mutator {
    static let specials: [UInt8] =
        Array(":-[]{},&*!|>'\"#%@`?\t\n\r\0 0x.~".utf8) + [0xFF, 0xC3, 0x80, 0xED, 0xA0, 0xEF, 0xBB, 0xBF]
    static let snippets: [String] = [
        "&a [*a, *a]", "*undefined", "&x", "!!binary AAAA", "? [a, b]\n: c\n", "<<: *a\n", "%YAML 1.1\n---\n", "---\n",
        "...\n",
        "\t", "\0", "99999999999999999999999999", "-9223372036854775809", "0x1_0000_0000_0000_0000", "1e309", "-0",
        ".nan",
        "0b101", "string(999999999999)", "bit", "~", "null", "\"\\u0000\"", "'", "\"", "{", "[", "]", "}", ": ", "- ",
        "#",
        "address: 65535\n", "type: float64\n", "scale_from: x\n", "profile: ../../../etc/passwd\n", "unit: -1\n",
        "poll_interval: 1e300s\n", "max_registers: 0\n", "not_available: [nan, 0xFFFFFFFFFFFFFFFF, -1]\n",
        "length: ~\n", "bit: ~\n", "address_base: ~\n", "defaults: ~\n", "limits: ~\n", "points: ~\n",
    ]

    /// Plain scalars that keep the YAML valid but probe the decoders: limits, types, odd numbers and words.
    static let values: [String] = [
        "0", "1", "-1", "2", "65535", "65536", "0xFFFF", "0x1_0000", "125", "126", "2000", "2001", "247", "248", "256",
        "9223372036854775807", "-9223372036854775808", "18446744073709551615", "18446744073709551616", "1e308",
        "-1e-320",
        "0.0", "-0.0", "nan", ".inf", "-.inf", "0b2", "0x", "-", "+", "_", "1_000", "true", "false", "yes", "~", "null",
        "\"\"",
        "0s", "1ms", "99999999999s", "1.5m", "-5ms", "10us", "1h", "holding", "input", "coil", "discrete_input",
        "coils",
        "int16", "uint16", "int32", "float32", "float64", "int64", "uint64", "bool", "bit", "string", "string(1)",
        "string(125)",
        "string(126)", "string(-1)", "string()", "bit(3)", "ABCD", "CDAB", "BADC", "DCBA", "abcd", "rtu:///dev/ttyS0",
        "tcp://[::1]:502", "tcp://[::1", "tcp://h:0", "rtu+tcp://h", "eastron/sdm630", "../x", "/", "voltage", "W_SF",
        "[]", "{}", "[0x8000, nan]", "[1, [2]]", "{a: b}",
    ]

    /// Every key the config format knows, for adding one where it may or may not belong.
    static let keys: [String] = [
        "gateway", "profiles", "io_threads", "links", "devices", "id", "site", "name", "url", "serial",
        "response_timeout",
        "byte_timeout", "connect_timeout", "baud", "parity", "data_bits", "stop_bits", "mode", "rts", "rts_delay",
        "link",
        "unit", "profile", "points", "address_base", "defaults", "poll_interval", "timeout", "limits", "vendor",
        "model",
        "source", "fits", "notes", "max_registers", "max_bits", "even_count", "max_gap", "pause", "table", "address",
        "type",
        "order", "bit", "length", "scale", "offset", "scale_from", "optional", "not_available", "expect", "description",
    ]

    static func mutate(_ input: [UInt8], _ random: inout SeededRandom) -> [UInt8] {
        // Half the time, a change that keeps the file valid YAML, so that the decoders see it.
        if Bool.random(using: &random) { return mutateValues(input, &random) }
        return mutateBytes(input, &random)
    }

    /// Replaces, deletes or duplicates values and lines.
    static func mutateValues(_ input: [UInt8], _ random: inout SeededRandom) -> [UInt8] {
        var lines = input.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map(Array.init)
        guard !lines.isEmpty else { return input }
        for _ in 0..<[1, 1, 2, 3].randomElement(using: &random)! {
            let i = Int.random(in: 0..<lines.count, using: &random)
            switch Int.random(in: 0..<7, using: &random) {
            case 5, 6:
                // Add a key beside the others: a flow mapping gets `, key: value` before its `}`, a block line a sibling line.
                let entry =
                    keys.randomElement(using: &random)! + ": "
                    + (Bool.random(using: &random) ? "~" : values.randomElement(using: &random)!)
                if let close = lines[i].lastIndex(of: UInt8(ascii: "}")) {
                    lines[i].insert(contentsOf: Array((", " + entry).utf8), at: close)
                } else {
                    var indent = Array(lines[i].prefix { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "-") })
                    if let dash = indent.lastIndex(of: UInt8(ascii: "-")) { indent[dash] = UInt8(ascii: " ") }
                    lines.insert(indent + Array(entry.utf8), at: i + 1)
                }
            case 0, 1, 2:
                // `key: value` → `key: other`, in block or flow style.
                let separators = lines[i].indices.filter {
                    lines[i][$0] == UInt8(ascii: ":") && $0 + 1 < lines[i].count
                        && lines[i][$0 + 1] == UInt8(ascii: " ")
                }
                guard let colon = separators.randomElement(using: &random) else { continue }
                let end =
                    lines[i][(colon + 2)...].firstIndex { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "}") }
                    ?? lines[i].count
                lines[i].replaceSubrange((colon + 2)..<end, with: Array(values.randomElement(using: &random)!.utf8))
            case 3:
                lines.remove(at: i)
                if lines.isEmpty { return [] }
            default:
                lines.insert(lines[i], at: Int.random(in: 0...lines.count, using: &random))
            }
        }
        return Array(lines.joined(separator: [UInt8(ascii: "\n")]))
    }

    static func mutateBytes(_ input: [UInt8], _ random: inout SeededRandom) -> [UInt8] {
        var bytes = input
        // Mostly one mutation, so that many mutants are still YAML and reach the decoders.
        let count = [1, 1, 1, 1, 1, 2, 2, 3, 4].randomElement(using: &random)!
        for _ in 0..<count {
            let position = bytes.isEmpty ? 0 : Int.random(in: 0..<bytes.count, using: &random)
            switch Int.random(in: 0..<12, using: &random) {
            case 0 where !bytes.isEmpty:
                bytes[position] ^= UInt8(1) << UInt8.random(in: 0...7, using: &random)
            case 1:
                bytes.insert(specials.randomElement(using: &random)!, at: position)
            case 2 where !bytes.isEmpty:
                bytes[position] = UInt8.random(in: 0...255, using: &random)
            case 3 where !bytes.isEmpty:
                let end = min(bytes.count, position + Int.random(in: 1...16, using: &random))
                bytes.removeSubrange(position..<end)
            case 4:
                bytes = Array(bytes.prefix(position))
            case 5:
                var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
                if !lines.isEmpty {
                    let i = Int.random(in: 0..<lines.count, using: &random)
                    lines.insert(lines[i], at: Int.random(in: 0...lines.count, using: &random))
                    bytes = Array(lines.joined(separator: [UInt8(ascii: "\n")]))
                }
            case 6:
                var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
                if lines.count > 1 {
                    lines.swapAt(
                        Int.random(in: 0..<lines.count, using: &random), Int.random(in: 0..<lines.count, using: &random)
                    )
                    bytes = Array(lines.joined(separator: [UInt8(ascii: "\n")]))
                }
            case 7:
                bytes.insert(contentsOf: Array(snippets.randomElement(using: &random)!.utf8), at: position)
            default:
                // Replace a scalar after ": " with a hostile one.
                if let colon = bytes[position...].firstIndex(of: UInt8(ascii: ":")) {
                    let end = bytes[colon...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
                    bytes.replaceSubrange(
                        min(colon + 1, end)..<end, with: Array((" " + snippets.randomElement(using: &random)!).utf8))
                }
            }
        }
        return bytes
    }

    /// Inputs no mutation reaches quickly: deep nesting, alias bombs, odd encodings.
    static func hostile(_ random: inout SeededRandom) -> [UInt8] {
        let depth = [10, 63, 64, 65, 100, 1000, 50_000].randomElement(using: &random)!
        switch Int.random(in: 0..<12, using: &random) {
        case 0: return Array(String(repeating: "[", count: depth).utf8)
        case 1: return Array((String(repeating: "[", count: depth) + String(repeating: "]", count: depth)).utf8)
        case 2:
            return Array((String(repeating: "{a: ", count: depth) + "1" + String(repeating: "}", count: depth)).utf8)
        case 3:
            return Array(
                (0..<min(depth, 300)).map { String(repeating: " ", count: $0) + "- " }.joined(separator: "\n").utf8)
        case 4: return Array("a: &a [*a]\n".utf8)
        case 5: return Array("profile: &p {x: *p, y: *p}\npoints: *p\n".utf8)
        case 6:
            // Billion laughs: 9 levels of 9 aliases.
            var text = "l0: &l0 [\"lol\"]\n"
            for level in 1...9 {
                text +=
                    "l\(level): &l\(level) [" + Array(repeating: "*l\(level - 1)", count: 9).joined(separator: ", ")
                    + "]\n"
            }
            return Array((text + "points: *l9\n").utf8)
        case 7:
            return Array(
                "profile: {source: x}\naddress_base: 0\npoints:\n  - {name: a, table: holding, address: 99999999999999999999999, type: int16}\n  - {name: b, table: holding, address: -0x8000000000000000, type: string(99999999999999999999)}\n"
                    .utf8)
        case 8:
            return [0xEF, 0xBB, 0xBF] + Array("gateway: {id: g}\nlinks: []\ndevices: []\n".utf8) + [
                0xFF, 0xFE, 0x00, 0xC0, 0x80, 0xED, 0xA0, 0x80,
            ]
        case 9:
            return Array("profile:\n\tvendor: x\n\0points: [\t]\n".utf8)
        case 10:
            return Array(("k: " + String(repeating: "x", count: 100_000) + "\n").utf8)
        default:
            return (0..<Int.random(in: 0...256, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
        }
    }
}

/// The items of a list under `key` in a mapping, as parsed; nil if there is no such list.
private func listCount(_ node: YAMLNode?, _ key: String) -> Int? {
    guard let node, case .mapping(let pairs) = node.kind, let pair = pairs.first(where: { $0.key.scalar == key }),
        case .sequence(let items) = pair.value.kind
    else { return nil }
    return items.count
}

private func listItems(_ node: YAMLNode?, _ key: String) -> [YAMLNode] {
    guard let node, case .mapping(let pairs) = node.kind, let pair = pairs.first(where: { $0.key.scalar == key }),
        case .sequence(let items) = pair.value.kind
    else { return [] }
    return items
}

/// A config that loads without errors holds everything its file lists: nothing is dropped silently.
private func droppedSilently(agent: AgentConfig?, profile: Profile?, root: YAMLNode?) -> String? {
    guard let root else { return nil }
    if let profile, let count = listCount(root, "points"), count != profile.points.count {
        return "profile lists \(count) points but has \(profile.points.count)"
    }
    if let agent {
        if let count = listCount(root, "links"), count != agent.links.count {
            return "agent lists \(count) links but has \(agent.links.count)"
        }
        let devices = listItems(root, "devices")
        if devices.count != agent.devices.count {
            return "agent lists \(devices.count) devices but has \(agent.devices.count)"
        }
        for (node, device) in zip(devices, agent.devices) {
            if let count = listCount(node, "points"), count != device.points.count {
                return "device \(device.name) lists \(count) points but has \(device.points.count)"
            }
            if let profile = device.profile, profile.points.count != device.points.count {
                return
                    "device \(device.name) has \(device.points.count) of its profile's \(profile.points.count) points"
            }
        }
    }
    return nil
}

@Suite("Loader fuzz")
struct LoaderFuzzTests {
    /// Set TRAM_FUZZ_ITERATIONS to run longer; TRAM_FUZZ_TRACE=1 prints each iteration before it runs
    /// (to find the input behind a crash, then replay it alone with TRAM_FUZZ_ONLY=n).
    @Test("mutated and hostile config files never crash the loader, and a nil result always says why")
    func mutationFuzz() throws {
        let seeds = FuzzCorpus.seeds
        #expect(seeds.count > 30, "corpus: \(seeds.count) files")
        let iterations = TestFiles.environment("TRAM_FUZZ_ITERATIONS").flatMap { Int($0) } ?? 3000
        let only = TestFiles.environment("TRAM_FUZZ_ONLY").flatMap { Int($0) }
        let trace = TestFiles.environment("TRAM_FUZZ_TRACE") != nil
        var loaded = 0, decoded = 0, total = 0

        for iteration in 0..<iterations where only == nil || only == iteration {
            var random = SeededRandom(seed: 0x5EED_0000 &+ UInt64(iteration))
            let seed = seeds.randomElement(using: &random)!
            var files = seed.companions
            let bytes =
                Int.random(in: 0..<20, using: &random) == 0
                ? Mutator.hostile(&random) : Mutator.mutate(seed.bytes, &random)
            files[seed.path] = bytes
            // Now and then break a profile the agent file names instead.
            if let companion = files.keys.sorted().filter({ $0 != seed.path }).randomElement(using: &random),
                Bool.random(using: &random)
            {
                files[companion] = Mutator.mutate(files[companion]!, &random)
            }
            if trace { print("fuzz \(iteration): \(seed.path) \(bytes.count) bytes") }
            if only != nil { print(String(decoding: bytes, as: UTF8.self)) }
            let clock = ContinuousClock(), started = clock.now
            defer { if trace { print("fuzz \(iteration): \(clock.now - started)") } }

            let loader = DeviceMapLoader(source: ByteSource(files: files))
            let agent = loader.loadAgent(seed.path)
            let profile = loader.loadProfile(seed.path)
            _ = loader.isProfile(seed.path)
            let root = agent.value != nil || profile.value != nil ? (try? YAMLParser.parse(bytes)) ?? nil : nil
            for (what, value, diagnostics) in [
                ("agent", agent.value != nil, agent.diagnostics),
                ("profile", profile.value != nil, profile.diagnostics),
            ] {
                let hasErrors = diagnostics.contains { $0.severity == .error }
                if !value && !hasErrors {
                    Issue.record(
                        "iteration \(iteration) (\(seed.path)): \(what) is nil without an error; diagnostics: \(diagnostics)"
                    )
                }
                if value && hasErrors {
                    Issue.record(
                        "iteration \(iteration) (\(seed.path)): \(what) returned despite errors: \(diagnostics)")
                }
                for diagnostic in diagnostics
                where diagnostic.location.mark.line < 1 || diagnostic.location.mark.column < 1
                    || diagnostic.message.isEmpty
                {
                    Issue.record(
                        "iteration \(iteration) (\(seed.path)): diagnostic without a place or text: \(diagnostic)")
                }
                if let dropped = droppedSilently(
                    agent: what == "agent" ? agent.value : nil, profile: what == "profile" ? profile.value : nil,
                    root: root)
                {
                    Issue.record("iteration \(iteration) (\(seed.path)): \(dropped) with no error")
                }
                total += 1
                if value { loaded += 1 }
                if !diagnostics.contains(where: {
                    $0.message.hasPrefix("YAML syntax") || $0.message.hasPrefix("cannot read")
                }) {
                    decoded += 1
                }
            }
        }
        if only == nil {
            // The fuzzer must reach past the parser: most mutants are still YAML, and some still load.
            // (Most seeds are the error test cases, so few load even before mutation.)
            #expect(
                decoded > total / 2 && loaded > iterations / 100,
                "\(decoded) of \(total) loads got past YAML, \(loaded) loaded")
        }
    }

    @Test("the parser refuses deep nesting and alias bombs with an error, not a crash or a hang")
    func parserLimits() {
        func error(_ text: String) -> String? {
            do { _ = try YAMLParser.parse(Array(text.utf8)); return nil } catch { return error.message }
        }
        // libyaml's scanner is quadratic in flow nesting: 100 000 brackets took half a minute before the parser counted them itself.
        let clock = ContinuousClock()
        let start = clock.now
        #expect(
            error(String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000))?.contains(
                "nesting deeper") == true)
        #expect(error(String(repeating: "{a: ", count: 100_000))?.contains("nesting deeper") == true)
        #expect(clock.now - start < .seconds(1), "deep flow nesting must be refused quickly, took \(clock.now - start)")
        // Brackets in comments and quoted text are not nesting.
        let quoted =
            "a: \"" + String(repeating: "[", count: 100) + "\"\nb: '" + String(repeating: "{", count: 100) + "' # "
            + String(repeating: "[", count: 100) + "\n"
        #expect(error(quoted) == nil)
        #expect(error("a: &a [*a]")?.contains("recursive alias") == true)
        #expect(error("a: *nowhere")?.contains("names no anchor") == true)
        var bomb = "l0: &l0 [\"lol\"]\n"
        for level in 1...9 {
            bomb +=
                "l\(level): &l\(level) [" + Array(repeating: "*l\(level - 1)", count: 9).joined(separator: ", ") + "]\n"
        }
        #expect(error(bomb)?.contains("alias bomb") == true)
        // A large plain file is not a bomb: 18,000 inline points with ranges are 234,002 nodes (500 devices of 30
        // such points with their table and type, about 300,000).
        let large = (0..<18_000).map { "  - {name: r\($0), address: \($0), range: [0, 100], report: {deadband: 2%}}" }
        let points = "points:\n" + large.joined(separator: "\n") + "\n"
        #expect(error(points) == nil, "a plain file of 18,000 points parses")
        // Aliases that add more than the limit are refused in a large file too.
        #expect(error(points + bomb)?.contains("alias bomb") == true)
        #expect(
            error(String(repeating: "[", count: 64) + String(repeating: "]", count: 64)) == nil, "64 levels are allowed"
        )
    }
}
