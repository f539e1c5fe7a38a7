import Testing
import TramConfig
import TramSpool
import TramStageOptions

@Suite("Spool options")
struct SpoolOptionsTests {
    @Test("an agent file's spool section becomes the spool's options")
    func fromSettings() {
        let settings = SpoolSettings(
            directory: "/data/tram", maximumBytes: 512 << 20, maximumAge: .seconds(7 * 86_400),
            overflow: .dropNewest, syncInterval: .milliseconds(250), replay: .interleaved,
            diskFullRingBytes: 4_000_000)
        let options = SpoolOptions(settings: settings, sinks: ["collector", "vm"])
        #expect(options.directory == "/data/tram")
        #expect(options.maximumBytes == 512 << 20 && options.segmentBytes == 8 << 20)
        #expect(options.maximumAgeMilliseconds == 7 * 86_400_000)
        #expect(options.syncIntervalMilliseconds == 250)
        #expect(options.overflow == .dropNewest && options.replay == .interleaved)
        #expect(options.sinks == ["collector", "vm"] && options.diskFullRingBytes == 4_000_000)
    }
}
