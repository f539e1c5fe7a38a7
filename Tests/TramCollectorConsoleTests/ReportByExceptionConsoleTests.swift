import Foundation
import Testing
import TramSchema

@testable import TramCollectorConsole
@testable import TramCollectorStore

/// A gateway whose `meter/v` reports by exception (a deadband, a heartbeat; polled every second) beside `pump/flow`,
/// polled every 10 s and sent every poll, its batches made by the real encoder (sparse groups, snapshots, dropped
/// ranges) and stored through the collector's ingest (`CollectorStore.store`).
final class ExceptionReporter {
    /// A whole minute.
    static let t: Int64 = 1_699_999_980_000
    let fixture: ConsoleFixture
    let dictionary: SchemaDictionary
    let gateway: Int64
    private var dictionarySent = false

    init(heartbeat: UInt64) throws {
        fixture = try ConsoleFixture()
        dictionary = SchemaDictionary(
            gateway: "gw-rbe",
            points: [
                PointDescriptor(
                    device: "meter", name: "v", unit: "V", type: .float64, intervalMilliseconds: 1_000, deadband: 0.5,
                    heartbeatMilliseconds: heartbeat),
                PointDescriptor(device: "pump", name: "flow", type: .float64, intervalMilliseconds: 10_000),
            ])
        gateway = try fixture.gateway("gw-rbe")
    }

    /// A group at `seconds` after `t`: v's value when sent, and flow's.
    struct Group {
        var seconds: Int64
        var v: Double? = nil
        var flow: Double? = nil
        var snapshot = false
    }

    func send(_ sequence: UInt64, _ groups: [Group], dropped: [Range<UInt64>] = []) throws {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 8)
        defer { buffer.deallocate() }
        let encoder = BatchEncoder(dictionary: dictionary, buffer: buffer)
        encoder.begin(epoch: 1, sequence: sequence, baseTimeMilliseconds: Self.t + groups[0].seconds * 1000)
        for group in groups {
            let sent = [(0, group.v), (1, group.flow)].compactMap { alias, value in value.map { (alias, $0) } }
            let aliases = sent.map(\.0)
            let values = sent.map { WireValue.float64(bits: $0.1.bitPattern) }
            try aliases.withUnsafeBufferPointer { aliases in
                try values.withUnsafeBufferPointer {
                    try encoder.append(
                        timeMilliseconds: Self.t + group.seconds * 1000, clock: .synchronised, aliases: aliases,
                        values: $0, snapshot: group.snapshot)
                }
            }
        }
        let frame = Array(try encoder.seal(droppedSequences: dropped))
        guard case .batch(let batch) = try FrameDecoder.decode(frame, dictionary: { _ in self.dictionary }).frame else {
            throw CancellationError()
        }
        let dictionaries = dictionarySent ? [] : [(dictionary, dictionary.schemaID, dictionary.frame())]
        dictionarySent = true
        _ = try fixture.store.store(
            dictionaries: dictionaries, batches: [batch], gateway: gateway, bytes: frame.count, now: Self.t)
    }

    func state(_ device: String) throws -> DeviceState? {
        try fixture.store.devices(gateway: "gw-rbe")?.first { $0.name == device }?.state
    }

    func pointID(_ name: String) throws -> Int64 {
        try fixture.scalar("SELECT id FROM points WHERE name = ?", [.text(name)])
    }

    static func flow(_ seconds: StrideThrough<Int64>) -> [Group] { seconds.map { Group(seconds: $0, flow: 1) } }
}

@Suite struct ReportByExceptionConsoleTests {
    typealias R = ExceptionReporter

    @Test func aQuietPointIsOnlineWithinItsHeartbeatAndStaleAfterAMissedOne() throws {
        let r = try R(heartbeat: 60_000)
        try r.send(
            0, [R.Group(seconds: 0, v: 230, flow: 1, snapshot: true)] + R.flow(stride(from: 10, through: 50, by: 10)))
        // v quiet for 50 s of a 63 s hold (60 s heartbeat + 1 s poll + 2 s margin): online.
        #expect(try r.state("meter") == .online)
        #expect(try r.fixture.store.problems(now: R.t).isEmpty)

        try r.send(1, R.flow(stride(from: 60, through: 100, by: 10)))
        // The gateway sent on to 100 s, v's heartbeat never came: stale since 63 s.
        #expect(try r.state("meter") == .offline)
        #expect(try r.state("pump") == .online)
        let fleet = try #require(
            try r.fixture.store.consoleGateway("gw-rbe", calendar: LocalCalendar(timeZone: .gmt), now: R.t))
        #expect(fleet.devicesOnline == 1 && fleet.devicesOffline == 1)
        let problem = try #require(try r.fixture.store.problems(now: R.t).first { $0.device == "meter" })
        #expect(problem.kind == .offline)
        #expect(problem.text == "offline: stale: missed its heartbeat")
        #expect(problem.sinceMilliseconds == R.t + 63_000)
        #expect(
            try r.fixture.store.devices(gateway: "gw-rbe")?.first { $0.name == "meter" }?.problem?.text
                == "stale: missed its heartbeat")

        try r.send(2, [R.Group(seconds: 110, v: 231, flow: 1)])
        #expect(try r.state("meter") == .online)
    }

    @Test func rawPlotsHoldEachValueFlatAndBreakAtAMissedHeartbeatAndAtALoss() throws {
        let r = try R(heartbeat: 60_000)
        try r.send(
            0, [R.Group(seconds: 0, v: 230, flow: 1, snapshot: true)] + R.flow(stride(from: 10, through: 100, by: 10)))
        try r.send(1, [R.Group(seconds: 110, v: 231, flow: 1)] + R.flow(stride(from: 120, through: 130, by: 10)))
        // Sequence 2 is late (no loss); 3 was dropped, which 4 reports, with a snapshot.
        try r.send(4, [R.Group(seconds: 200, v: 232, flow: 1, snapshot: true)], dropped: [3..<4])
        try r.send(2, R.flow(stride(from: 140, through: 150, by: 10)))
        let marks = try r.fixture.store.lossMarks(gateway: "gw-rbe")
        #expect(marks.map(\.sequences) == [3...3])
        // Batch 2 arrived later and lies nearer: the window starts at its newest group now.
        #expect(marks.map(\.window) == [LossWindow(from: R.t + 150_000, to: R.t + 200_000)])

        let v = try r.pointID("v")
        let series = try r.fixture.store.plot(point: v, from: R.t, to: R.t + 220_000)
        #expect(series.source == .raw && series.stepHold)
        // 230 until its hold ran out (63 s), 231 until the loss began, 232 to the range's end.
        #expect(
            series.holds == [
                PlotHold(fromIndex: 0, toIndex: 63_000, value: 230),
                PlotHold(fromIndex: 110_000, toIndex: 150_000, value: 231),
                PlotHold(fromIndex: 200_000, toIndex: 220_000, value: 232),
            ])
        let svg = PlotSVG(name: "v", series: series, intervalMilliseconds: 1_000)
        #expect(svg.paths.mean == "M0 1000H63000M110000 500H150000M200000 0H220000")
        #expect(svg.render(label: "v").contains("data-hold=\"step\""))

        // A range that starts inside a hold begins with it; consecutive sends join with a vertical.
        let later = try r.fixture.store.plot(point: v, from: R.t + 20_000, to: R.t + 60_000)
        #expect(later.holds == [PlotHold(fromIndex: 0, toIndex: 40_000, value: 230)])
        try r.send(5, [R.Group(seconds: 210, v: 233, flow: 1)])
        let joined = try r.fixture.store.plot(point: v, from: R.t + 190_000, to: R.t + 230_000)
        #expect(
            PlotSVG(name: "v", series: joined, intervalMilliseconds: 1_000).paths.mean == "M10000 1000H20000V0H40000")

        // A point sent every poll is drawn as before.
        let flow = try r.fixture.store.plot(point: try r.pointID("flow"), from: R.t, to: R.t + 220_000)
        #expect(!flow.stepHold && flow.holds.isEmpty)
        #expect(
            PlotSVG(name: "flow", series: flow, intervalMilliseconds: 10_000).render(label: "f").contains(
                "data-hold=\"line\""))
    }

    @Test func rollupPlotsFillTheMinutesAValueHoldsAndGapAfterAMissedHeartbeat() throws {
        let r = try R(heartbeat: 600_000)
        // 35 minutes of change every second (2,100 readings: more than a raw plot draws), then a heartbeat every 10
        // minutes to minute 500, then nothing.
        try r.send(0, (0..<2_100).map { R.Group(seconds: $0, v: 230 + Double($0 % 2)) })
        try r.send(1, stride(from: 2_400, through: 30_000, by: 600).map { R.Group(seconds: Int64($0), v: 240) })
        let series = try r.fixture.store.plot(point: try r.pointID("v"), from: R.t, to: R.t + 60_000_000)
        #expect(series.source == .minute && series.widthMilliseconds == 60_000 && series.stepHold)
        // Minute 510 starts within the last heartbeat's hold (603 s), 511 after it.
        #expect(series.buckets.map(\.index) == Array(0...510))
        #expect(series.buckets[35...39].allSatisfy { $0.count == 0 && $0.mean == 231 && $0.minimum == 231 })
        #expect(series.buckets[40].count == 1 && series.buckets[40].mean == 240)
        #expect(series.buckets[41...510].allSatisfy { $0.mean == 240 })
        let mean = PlotSVG(name: "v", series: series, intervalMilliseconds: 1_000).paths.mean
        #expect(mean.filter { $0 == "M" }.count == 1)
    }
}
