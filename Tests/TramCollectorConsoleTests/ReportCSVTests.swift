import Testing
@testable import TramCollectorStore

@testable import TramCollectorConsole

@Suite struct ReportCSVTests {
    @Test(arguments: [
        ("=HYPERLINK(\"http://x\")", "\"'=HYPERLINK(\"\"http://x\"\")\""),
        ("+1", "'+1"), ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"),
        ("plain", "plain"), ("a,b", "\"a,b\""), ("line\nbreak", "\"line\nbreak\""), ("1-2", "1-2"), ("", ""),
    ])
    func cellsAreNeutralisedAndQuoted(input: String, expected: String) {
        #expect(ReportCSV.cell(input) == expected)
    }

    @Test func rowsAndTotal() {
        let report = SiteReport(
            site: "=north", period: .month(year: 2025, month: 3), timeZone: "UTC", from: 0, to: 1,
            countedMilliseconds: 1,
            gateways: [
                .init(
                    name: "gw-1",
                    devices: [
                        .init(name: "-meter", points: 2, readings: 10, availability: 0.5, daysWithData: 3),
                        .init(name: "pump", points: 1, readings: 5, availability: 1, daysWithData: 2),
                    ], points: 3, readings: 15, bytes: 1234, availability: 2.0 / 3, daysWithData: 3)
            ], devices: 2, points: 3, readings: 15, bytes: 1234, availability: 2.0 / 3, daysWithData: 3)
        let lines = ReportCSV.render(report).split(separator: "\r\n").map(String.init)
        #expect(
            lines == [
                "site,gateway,device,points,readings,bytes,availability_percent,days_with_data",
                "'=north,gw-1,,3,15,1234,66.67,3",
                "'=north,gw-1,'-meter,2,10,,50.00,3",
                "'=north,gw-1,pump,1,5,,100.00,2",
                "total,,,3,15,1234,66.67,3",
            ])
    }
}
