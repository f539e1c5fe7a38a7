import Testing
import TramAgent
import TramBatch
import TramConfig
import TramConfigFiles

/// What a reload changes, as data: each folder under `reloadcases/` holds the running file (`old.yaml`), the
/// reloaded one (`new.yaml`) and the plan (`expected.txt`): links stopped and started, the TCP pool, the writer,
/// the sinks, and what waits for a restart. A new reload rule or bug becomes a folder, not code.
@Suite("Reload plan")
struct ReloadPlanTests {
    static let root: String = {
        let file = #filePath
        return String(file[..<file.lastIndex(of: "/")!]) + "/reloadcases"
    }()

    static let cases: [String] = Array(
        Set(
            FileConfigSource().yamlFiles(under: root).compactMap { path in
                path.split(separator: "/").count == 2 ? String(path.split(separator: "/")[0]) : nil
            })
    ).sorted()

    static func load(_ path: String) throws -> AgentConfig {
        let result = DeviceMapLoader(source: FileConfigSource()).loadAgent(path)
        #expect(result.diagnostics.isEmpty, "\(path): \(result.diagnostics)")
        return try #require(result.value)
    }

    /// The plan as `expected.txt` writes it.
    static func describe(_ plan: ReloadPlan) -> String {
        func names(_ set: Set<String>) -> String { set.isEmpty ? "-" : set.sorted().joined(separator: " ") }
        var deferred: [String] = []
        if plan.spoolChangeDeferred { deferred.append("spool") }
        if plan.sinkNamesChangeDeferred { deferred.append("sink-names") }
        return """
            stop: \(names(plan.stopLinks))
            start: \(names(plan.startLinks))
            tcp_pool: \(plan.replacesTCPPool ? "replace" : "keep")
            writer: \(plan.replacesWriter ? "replace" : "keep")
            sinks: \(plan.restartsSinks ? "restart" : "keep")
            deferred: \(deferred.isEmpty ? "-" : deferred.joined(separator: " "))

            """
    }

    @Test("reloadcases/ is populated")
    func casesExist() {
        #expect(Self.cases.count >= 12, "found \(Self.cases) under \(Self.root)")
    }

    @Test("each case's plan is its expected.txt", arguments: cases)
    func plan(_ name: String) throws {
        let directory = Self.root + "/" + name
        let old = try Self.load(directory + "/old.yaml"), requested = try Self.load(directory + "/new.yaml")
        let plan = ReloadPlan(
            old: old, requested: requested, running: Set(old.links.map(\.name)), hasTCPPool: true,
            schemaChanged: SchemaMapping(config: old).dictionary.schemaID
                != SchemaMapping(config: requested).dictionary.schemaID)
        let expected = try #require(FileConfigSource().contents(of: directory + "/expected.txt"))
        #expect(Self.describe(plan) == String(decoding: expected, as: UTF8.self), "\(name)")
        // What waits for a restart never reaches the running config.
        #expect(plan.effective.spool == old.spool)
        #expect(Set(plan.effective.sinks.map(\.name)).isSubset(of: Set(old.sinks.map(\.name))))
    }

    @Test("the first TCP link of a serial-only gateway brings a TCP pool")
    func firstTCPLink() throws {
        let old = try Self.load(Self.root + "/link-added/old.yaml")
        let plan = ReloadPlan(
            old: old, requested: old, running: Set(old.links.map(\.name)), hasTCPPool: false, schemaChanged: false)
        #expect(plan.replacesTCPPool && plan.stopLinks.isEmpty && plan.startLinks.isEmpty)
    }
}
