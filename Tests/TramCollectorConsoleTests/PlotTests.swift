import Foundation
import Testing
@testable import TramCollectorStore
import TramTestSupport

@testable import TramCollectorConsole

@Suite struct PlotTests {
    static let groupings: [(span: Int64, source: Int64)] = [
        (3_600_000, 60_000), (86_400_000, 60_000), (7 * 86_400_000, 60_000), (41 * 86_400_000, 60_000),
        (42 * 86_400_000, 3_600_000), (396 * 86_400_000, 3_600_000),
    ]
    static let spans: [Int64] = [86_400_000 + 1, 7 * 86_400_000, 50 * 86_400_000]

    @Test(arguments: groupings)
    func groupingIsAlignedAndHasAtMost2000Buckets(span: Int64, source: Int64) {
        let from: Int64 = 1_741_000_123_456
        let g = PlotSeries.grouping(from: from, to: from + span, sourceWidth: source)
        #expect(g.width % source == 0)
        #expect(g.from % g.width == 0 && g.to % g.width == 0)
        #expect(g.from <= from && g.to >= from + span)
        let buckets = (g.to - g.from) / g.width
        #expect(buckets <= 2000)
        // At least 1,000 whenever the source has that many buckets in the range.
        if span / source >= 1000 { #expect(buckets >= 1000) } else { #expect(g.width == source) }
    }

    @Test func sourceChoice() {
        #expect(PlotSeries.source(from: 0, to: 3_600_000, readings: 2000) == .raw)
        #expect(PlotSeries.source(from: 0, to: 3_600_000, readings: 2001) == .raw)  // grouped: 1 h at 1 Hz
        #expect(PlotSeries.source(from: 0, to: 1000 * 60_000, readings: 2001) == .minute)
        #expect(PlotSeries.source(from: 0, to: 999 * 3_600_000, readings: 2001) == .minute)
        #expect(PlotSeries.source(from: 0, to: 1000 * 3_600_000, readings: 2001) == .hour)
    }

    /// Readings every 20 s with gaps and value-less readings over 7 days; the plot's buckets (from minute rollups,
    /// regrouped in SQL) equal count, min, max and mean computed from the raw rows with the plot's own width.
    @Test(arguments: spans)
    func regroupedRollupsEqualAReferenceFromTheRows(span: Int64) throws {
        let f = try ConsoleFixture()
        let g = try f.gateway("gw")
        let p = try f.point(try f.device(g, "meter"), "power")
        var random = SeededRandom(seed: 15)
        let start: Int64 = 1_740_000_000_000
        var rows: [ConsoleFixture.Reading] = []
        var t = start
        while t < start + span {
            if Int.random(in: 0..<500, using: &random) == 0 {
                t += Int64.random(in: 600_000...7_200_000, using: &random)
            }
            let quality: Int64 = Int.random(in: 0..<40, using: &random) == 0 ? 3 : 0
            rows.append(
                .init(
                    time: t, value: quality == 0 ? Double(Int.random(in: -500...500, using: &random)) / 8 : nil,
                    quality: quality))
            t += span > 10 * 86_400_000 ? 300_000 : 20_000
        }
        try f.readings(p, rows)
        try f.buildRollups()
        let series = try f.store.plot(point: p, from: start, to: start + span)
        #expect(series.source == (span >= 1000 * 3_600_000 ? .hour : .minute))
        #expect(series.bucketCount <= 2000 && series.bucketCount >= 1000)

        struct Reference: Equatable {
            var count = 0
            var minimum: Double?
            var maximum: Double?
            var sum = 0.0
            var numeric = 0
        }
        var reference: [Int64: Reference] = [:]
        for r in rows where r.time >= series.from && r.time < series.to {
            let i = (r.time - series.from) / series.widthMilliseconds
            var b = reference[i] ?? Reference()
            b.count += 1
            if let v = r.value {
                b.minimum = min(b.minimum ?? v, v)
                b.maximum = max(b.maximum ?? v, v)
                b.sum += v
                b.numeric += 1
            }
            reference[i] = b
        }
        #expect(series.buckets.map(\.index) == reference.keys.sorted())
        for bucket in series.buckets {
            let r = try #require(reference[bucket.index])
            #expect(bucket.count == Int64(r.count))
            #expect(bucket.minimum == r.minimum)
            #expect(bucket.maximum == r.maximum)
            if r.numeric > 0 {
                #expect(abs(bucket.mean! - r.sum / Double(r.numeric)) < 1e-9)
            } else {
                #expect(bucket.mean == nil)
            }
        }
    }

    @Test func fewReadingsPlotRawEachItsOwnBucket() throws {
        let f = try ConsoleFixture()
        let p = try f.point(try f.device(try f.gateway("gw"), "meter"), "flag", type: 1)
        let rows = (0..<30).map {
            ConsoleFixture.Reading(time: 1_000_000 + Int64($0) * 60_000, value: nil, rawInt: Int64($0 % 2), type: 1)
        }
        try f.readings(p, rows)
        let series = try f.store.plot(point: p, from: 1_000_000, to: 1_000_000 + 3_600_000)
        #expect(series.source == .raw)
        #expect(series.widthMilliseconds == 1)
        #expect(series.buckets.map(\.index) == rows.map { $0.time - 1_000_000 })
        #expect(series.buckets.map(\.minimum) == rows.map { Double($0.rawInt!) })
    }

    @Test func aDenseHourIsGroupedFromTheRawReadingsIntoAtLeast1000Buckets() throws {
        let f = try ConsoleFixture()
        let p = try f.point(try f.device(try f.gateway("gw"), "meter"), "flow")
        let rows = (0..<3600).map { ConsoleFixture.Reading(time: Int64($0) * 1000, value: Double(($0 * 37) % 101)) }
        try f.readings(p, rows)
        let series = try f.store.plot(point: p, from: 0, to: 3_600_000)
        #expect(series.source == .raw && series.widthMilliseconds == 2000)
        #expect((1000...2000).contains(series.bucketCount) && series.buckets.count == 1800)
        // Each bucket against a reference from the rows.
        for bucket in series.buckets {
            let values = rows.filter { $0.time / 2000 == bucket.index }.compactMap(\.value)
            #expect(bucket.count == Int64(values.count))
            #expect(bucket.minimum == values.min() && bucket.maximum == values.max())
        }
    }

    @Test func counterRateFromIncrease() throws {
        let f = try ConsoleFixture()
        let p = try f.point(try f.device(try f.gateway("gw"), "meter"), "energy", counter: true)
        // 3,000 raw readings so the plot reads rollups; the increases are set by hand (the ingest side computes them).
        try f.readings(p, (0..<3000).map { ConsoleFixture.Reading(time: Int64($0) * 20_000, value: Double($0)) })
        try f.buildRollups()
        try f.execute("UPDATE rollups SET increase = 6 WHERE width_ms = 60000")
        let series = try f.store.plot(point: p, from: 0, to: 60_000_000, rate: true)
        #expect(series.source == .minute && series.widthMilliseconds == 60_000)
        #expect(series.buckets.allSatisfy { $0.mean == 0.1 && $0.minimum == 0.1 && $0.maximum == 0.1 })
    }

    @Test func svgDrawsEachBucketAsASubpathAndBreaksTheMeanAtGaps() {
        let series = PlotSeries(
            source: .minute, from: 0, to: 4 * 60_000, widthMilliseconds: 60_000,
            buckets: [
                .init(index: 0, count: 2, minimum: 0, maximum: 10, mean: 5),
                .init(index: 1, count: 1, minimum: 2.5, maximum: 2.5, mean: 2.5),
                .init(index: 3, count: 3, minimum: 1, maximum: 9.9995, mean: 4),
            ], rate: false)
        let svg = PlotSVG(name: "p", series: series, intervalMilliseconds: nil)
        #expect(svg.valueRange.low == 0 && svg.valueRange.high == 10)
        let (range, mean) = svg.paths
        #expect(range == "M0 0V1000M1 750V750M3 0V900")
        #expect(mean == "M0 500L1 750M3 600")
        let text = svg.render(label: "x")
        #expect(
            text.contains(
                "data-buckets=\"4\" data-from=\"0\" data-to=\"240000\" data-width-ms=\"60000\" data-y-low=\"0.0\" data-y-high=\"10.0\" viewBox=\"0 0 4 1000\""
            ))
        // Half away from zero.
        #expect(PlotSVG.y(999.5, low: 0, high: 1000) == 1)
        #expect(PlotSVG.y(-0.5, low: 0, high: 1000) == 1001)
    }
}
