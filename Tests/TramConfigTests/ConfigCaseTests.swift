import Testing
import TramConfig
import TramCore
import TramModbus

/// Data-driven config tests, in the style of Telegraf's `testcases/`.
///
/// Each folder under `testcases/` is one case:
///
/// - `agent.yaml` (an agent file, with its profiles under `Devices/<vendor>/<model>.yaml`)
///   or `profile.yaml` (one profile);
/// - `expected.err`: the exact diagnostics, one `file:line:column: severity: message` a line,
///   file paths relative to the case folder; and/or
/// - `expected.plan`: the read requests for each device, one a line:
///   `device FCnn table address+count point,point,...`
///   (`device` is `profile` for a `profile.yaml` case). A plan case without
///   `expected.err` must load with no diagnostics at all;
/// - optionally `expected.kinds`: every point's kind, one `device point gauge|counter` a line;
/// - optionally `expected.report`: every point's report-by-exception rule, one a line:
///   `device point deadband D heartbeat H` or `device point every poll`.
///
/// A new config bug becomes a new folder, not new code. To draft the expected
/// files of a new case, run with `TRAM_RECORD_TESTCASES=1`: a case without
/// expected files gets them written from what the loader says now. They are a
/// spec, not a snapshot: read them and check every message and position by hand.
enum ConfigCases {
    static let root = TestFiles.testsDirectory + "/testcases"

    static var names: [String] {
        TestFiles.list(root).filter { TestFiles.isDirectory(root + "/" + $0) }
    }

    static let expectedFiles: Set<String> = ["expected.err", "expected.plan", "expected.kinds", "expected.report"]

    /// Each point's rule as `expected.report` spells it.
    static func reportText(_ device: DeviceConfig) -> [String] {
        zip(device.points, device.reportRules).map { point, rule in
            guard let rule else { return "\(device.name) \(point.name) every poll" }
            return "\(device.name) \(point.name) deadband \(rule.deadband) heartbeat \(rule.heartbeat.shortDescription)"
        }
    }

    /// The case folder as an in-memory source, keyed by paths relative to the folder.
    static func source(_ directory: String) -> InMemoryConfigSource {
        var files: [String: String] = [:]
        for path in TestFiles.filesRecursively(directory) where !expectedFiles.contains(path) {
            files[path] = TestFiles.readText(directory + "/" + path)
        }
        return InMemoryConfigSource(files)
    }

    /// Requests as text: `device FCnn table address+count point,point,...`.
    static func planText(device: String, points: [Point], limits: RequestLimits) -> [String] {
        RequestPlanner.plan(points, limits: limits).map { request in
            let fc = request.table.functionCode
            let names = request.points.map { points[$0].name }.joined(separator: ",")
            return
                "\(device) FC\(fc < 10 ? "0" : "")\(fc) \(request.table.rawValue) \(request.address)+\(request.count) \(names)"
        }
    }

    static func lines(_ text: String) -> [String] {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        while lines.last == "" { lines.removeLast() }
        return lines
    }
}

@Suite("Config test cases")
struct ConfigCaseTests {
    @Test("testcases/ folder is populated")
    func casesExist() {
        #expect(ConfigCases.names.count >= 14, "found \(ConfigCases.names) under \(ConfigCases.root)")
    }

    @Test(arguments: ConfigCases.names)
    func configCase(_ name: String) throws {
        let directory = ConfigCases.root + "/" + name
        let source = ConfigCases.source(directory)
        let loader = DeviceMapLoader(source: source)
        let expectedErr = TestFiles.readText(directory + "/expected.err")
        let expectedPlan = TestFiles.readText(directory + "/expected.plan")

        let diagnostics: [Diagnostic]
        var plan: [String]?
        var kinds: [String]?
        var reports: [String]?
        if source.files["agent.yaml"] != nil {
            let result = loader.loadAgent("agent.yaml")
            diagnostics = result.diagnostics
            #expect((result.value == nil) == result.hasErrors, "a config is returned exactly when there are no errors")
            if let agent = result.value {
                plan = agent.devices.flatMap {
                    ConfigCases.planText(device: $0.name, points: $0.points, limits: $0.limits)
                }
                kinds = agent.devices.flatMap { device in
                    device.points.map { "\(device.name) \($0.name) \($0.kind.rawValue)" }
                }
                reports = agent.devices.flatMap(ConfigCases.reportText)
                for device in agent.devices {
                    let planned = RequestPlanner.plan(device.points, limits: device.limits).flatMap(\.points).sorted()
                    #expect(
                        planned == Array(device.points.indices),
                        "device \(device.name): every point planned exactly once")
                }
            }
        } else if source.files["profile.yaml"] != nil {
            let result = loader.loadProfile("profile.yaml")
            diagnostics = result.diagnostics
            #expect((result.value == nil) == result.hasErrors, "a profile is returned exactly when there are no errors")
            if let profile = result.value {
                plan = ConfigCases.planText(device: "profile", points: profile.points, limits: profile.limits)
                kinds = profile.points.map { "profile \($0.name) \($0.kind.rawValue)" }
            }
        } else {
            Issue.record("case \(name) has neither agent.yaml nor profile.yaml")
            return
        }

        let actualErr = diagnostics.map(\.description)
        if expectedErr == nil, expectedPlan == nil {
            if TestFiles.environment("TRAM_RECORD_TESTCASES") != nil {
                if !actualErr.isEmpty {
                    TestFiles.write(directory + "/expected.err", actualErr.joined(separator: "\n") + "\n")
                }
                if let plan, actualErr.isEmpty {
                    TestFiles.write(directory + "/expected.plan", plan.joined(separator: "\n") + "\n")
                }
            }
            Issue.record(
                """
                case \(name) has no expected.err or expected.plan; the loader says:
                \(actualErr.joined(separator: "\n"))
                \((plan ?? []).joined(separator: "\n"))
                """)
            return
        }

        if let expectedErr {
            let expected = ConfigCases.lines(expectedErr)
            #expect(
                actualErr == expected,
                "diagnostics differ:\n--- expected\n\(expected.joined(separator: "\n"))\n--- actual\n\(actualErr.joined(separator: "\n"))"
            )
        } else {
            #expect(actualErr.isEmpty, "a plan case must load cleanly:\n\(actualErr.joined(separator: "\n"))")
        }
        if let expectedKinds = TestFiles.readText(directory + "/expected.kinds") {
            let expected = ConfigCases.lines(expectedKinds)
            let actual = try #require(kinds, "no config to read kinds from")
            #expect(
                actual == expected,
                "kinds differ:\n--- expected\n\(expected.joined(separator: "\n"))\n--- actual\n\(actual.joined(separator: "\n"))"
            )
        }
        if let expectedReport = TestFiles.readText(directory + "/expected.report") {
            let expected = ConfigCases.lines(expectedReport)
            let actual = try #require(reports, "no agent config to read report rules from")
            #expect(
                actual == expected,
                "report rules differ:\n--- expected\n\(expected.joined(separator: "\n"))\n--- actual\n\(actual.joined(separator: "\n"))"
            )
        }
        if let expectedPlan {
            let expected = ConfigCases.lines(expectedPlan)
            let actual = try #require(plan, "no config to plan")
            #expect(
                actual == expected,
                "plan differs:\n--- expected\n\(expected.joined(separator: "\n"))\n--- actual\n\(actual.joined(separator: "\n"))"
            )
        }
    }
}
