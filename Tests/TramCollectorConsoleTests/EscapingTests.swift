import Foundation
import Testing
@testable import TramCollectorStore

@testable import TramCollectorConsole

/// Every name shown comes from a gateway's dictionary (untrusted): it renders as text in HTML and in SVG.
@Suite struct EscapingTests {
    static let hostile = "<img src=x onerror=alert(1)>"
    static let escaped = "&lt;img src=x onerror=alert(1)&gt;"

    @Test func escapeCoversTheFiveCharacters() {
        #expect(HTML.escape(#"<a href="x">'&'</a>"#) == "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;")
        #expect(HTML.escape("Nhiệt độ °C") == "Nhiệt độ °C")
    }

    @Test func pathSegmentsKeepANameOneSegment() {
        #expect(HTML.pathSegment("a/b?c#d e") == "a%2Fb%3Fc%23d%20e")
        #expect(HTML.pathSegment("é") == "%C3%A9")
    }

    @Test func hostilePointNameOnTheDevicePageAndInItsPlot() throws {
        let f = try ConsoleFixture()
        let g = try f.gateway(Self.hostile, site: Self.hostile, lastSeen: 1_000_000)
        let d = try f.device(g, Self.hostile)
        let p = try f.point(d, Self.hostile, unit: "<b>")
        try f.readings(
            p, (0..<10).map { ConsoleFixture.Reading(time: 600_000 + Int64($0) * 60_000, value: Double($0)) })
        let points = try #require(try f.store.points(gateway: Self.hostile, device: Self.hostile))
        let series = try f.store.plot(point: p, from: 0, to: 1_200_000)
        let formatting = Formatting(timeZone: TimeZone(identifier: "UTC")!)
        let html = DevicePage.render(
            gateway: Self.hostile, device: Self.hostile, points: points,
            plots: [.init(point: points[0], series: series)],
            range: PlotRange(from: 0, to: 1_200_000, preset: nil), rate: false, formatting, now: 1_200_000)
        #expect(!html.contains("<img"))
        #expect(!html.contains("<b>"))
        #expect(html.contains("<tr class=\"point\" data-point=\"\(Self.escaped)\""))
        #expect(html.contains("<svg class=\"plot\" data-point=\"\(Self.escaped)\""))
        #expect(html.contains("<title>\(Self.escaped) from"))
        #expect(html.contains("%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E"))

        let fleet = FleetPage.render(
            try f.store.fleet(calendar: formatting.calendar, now: 1_200_000), sites: try f.store.sites(), site: nil,
            formatting, now: 1_200_000)
        #expect(!fleet.contains("<img"))
        #expect(fleet.contains("data-gateway=\"\(Self.escaped)\" data-site=\"\(Self.escaped)\""))
        let problems = ProblemsPage.render(try f.store.problems(now: 10_000_000), formatting, now: 10_000_000)
        #expect(!problems.contains("<img"))
        #expect(problems.contains(Self.escaped))
    }

    @Test func noInlineScriptOrStyleOnAnyPage() throws {
        let formatting = Formatting(timeZone: TimeZone(identifier: "Asia/Ho_Chi_Minh")!)
        let pages = [
            SignInPage.render(message: "<x>", formatting, now: 0),
            FleetPage.render([], sites: [], site: nil, formatting, now: 0),
            ProblemsPage.render([], formatting, now: 0),
        ]
        for page in pages {
            #expect(!page.contains("<script>"))
            #expect(!page.contains("style="))
            #expect(!page.contains("<style"))
            #expect(page.range(of: #" on[a-z]+="#, options: .regularExpression) == nil, "no inline event handlers")
            #expect(page.contains("Asia/Ho_Chi_Minh"))
        }
        #expect(pages[0].contains("<p id=\"sign-in-error\" class=\"error\" role=\"alert\">&lt;x&gt;</p>"))
    }
}
