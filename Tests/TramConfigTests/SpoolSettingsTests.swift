import Testing
import TramConfig

/// The `spool:` section's values reach the config (its errors are data-driven cases under testcases/).
@Suite("Spool settings")
struct SpoolSettingsTests {
    static let agent = """
        gateway: { id: gw-1 }
        links: [ { name: plc, url: "tcp://192.0.2.1" } ]
        devices:
          - { name: m, link: plc, unit: 1, address_base: 0, points: [ { name: p, table: holding, address: 0, type: uint16 } ] }

        """

    @Test("defaults when the section is absent")
    func defaults() throws {
        let result = DeviceMapLoader(source: InMemoryConfigSource(["agent.yaml": Self.agent])).loadAgent("agent.yaml")
        let spool = try #require(result.value).spool
        #expect(spool == SpoolSettings())
        #expect(spool.maximumBytes == 1 << 30 && spool.syncInterval == .seconds(1) && spool.overflow == .dropOldest)
    }

    @Test("every key, with sizes and durations in their units")
    func everyKey() throws {
        let text =
            Self.agent + """
                spool:
                  directory: /data/tram
                  max_bytes: 512MiB
                  max_age: 7d
                  overflow: drop_newest
                  sync_interval: 250ms
                  replay: interleaved
                  disk_full_ring: 4MB
                """
        let result = DeviceMapLoader(source: InMemoryConfigSource(["agent.yaml": text])).loadAgent("agent.yaml")
        #expect(result.diagnostics.isEmpty, "\(result.diagnostics)")
        let spool = try #require(result.value).spool
        #expect(
            spool
                == SpoolSettings(
                    directory: "/data/tram", maximumBytes: 512 << 20, maximumAge: .seconds(7 * 86_400),
                    overflow: .dropNewest, syncInterval: .milliseconds(250), replay: .interleaved,
                    diskFullRingBytes: 4_000_000))
    }
}
