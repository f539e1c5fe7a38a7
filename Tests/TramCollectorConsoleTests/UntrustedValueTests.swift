import Testing
import TramBuiltinPoints

@testable import TramCollectorConsole
@testable import TramCollectorStore

/// A gateway's values are untrusted: a built-in point sent as ±inf or 1e300 (a dictionary of its own making) must be
/// shown or left out, never trap the collector (`Int64(Double)` does on those).
@Suite("Untrusted values")
struct UntrustedValueTests {
    static let hostile: [Double] = [.infinity, -.infinity, .nan, 1e300, -1e300, 9.3e18]

    @Test("whole numbers only when a double holds them exactly; clamped sizes never trap", arguments: hostile)
    func storedValues(value: Double) {
        #expect(StoredValue.wholeNumber(value) == nil)
        if value.isNaN {
            #expect(StoredValue.clamped(value) == nil)
        } else {
            #expect(StoredValue.clamped(value) != nil)
        }
    }

    @Test("the gateway page's health texts, the link's operator code and the plot's y", arguments: hostile)
    func pages(value: Double) {
        for point in [
            BuiltinDevice.Gateway.uptime, BuiltinDevice.Gateway.memoryRSS, BuiltinDevice.Gateway.spoolBacklog,
            BuiltinDevice.Gateway.cpuUsage,
        ] {
            #expect(!GatewayPage.healthText(point, "\(value)", value: value).isEmpty)
        }
        let link = ConsoleLink(values: [
            BuiltinDevice.Modem.operatorCode: .init(value: value, text: nil, quality: .good, timeMilliseconds: 1),
            BuiltinDevice.Modem.technology: .init(value: value, text: nil, quality: .good, timeMilliseconds: 1),
        ])
        #expect(link.operatorCode == nil && link.technology == nil)
        let y = PlotSVG.y(-1e308, low: -1e308, high: 1e308)
        #expect((-1_000_000...1_000_000).contains(y))
    }

    @Test("whole numbers within 2^53 pass exactly")
    func exact() {
        #expect(StoredValue.wholeNumber(45204) == 45204)
        #expect(StoredValue.wholeNumber(-3) == -3)
        #expect(StoredValue.wholeNumber(2.5) == nil)
    }
}
