import TramBuiltinPoints
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import TramSchema
import TramTestSupport

@testable import TramCollectorConsole
@testable import TramCollectorStore

/// Real frames from gateways with the built-in `gateway` and `modem` devices (docs/builtin-devices.md), encoded by the
/// real encoder, decoded by the real decoder and stored by the real ingest path (`CollectorStore.store`).
final class BuiltinIngest {
    static let modemInterval: UInt64 = 30_000
    static let points: [PointDescriptor] = [
        PointDescriptor(
            device: "modem", name: "technology", unit: "", type: .uint16, intervalMilliseconds: modemInterval),
        PointDescriptor(
            device: "modem", name: "operator_code", unit: "", type: .uint32, intervalMilliseconds: modemInterval),
        PointDescriptor(
            device: "modem", name: "operator_name", unit: "", type: .string, intervalMilliseconds: modemInterval),
        PointDescriptor(
            device: "modem", name: "lte_rsrp", unit: "dBm", type: .float64, intervalMilliseconds: modemInterval),
        PointDescriptor(
            device: "modem", name: "lte_rsrq", unit: "dB", type: .float64, intervalMilliseconds: modemInterval),
        PointDescriptor(
            device: "modem", name: "lte_snr", unit: "dB", type: .float64, intervalMilliseconds: modemInterval),
        PointDescriptor(
            device: "modem", name: "nr_rsrp", unit: "dBm", type: .float64, intervalMilliseconds: modemInterval),
        PointDescriptor(
            device: "modem", name: "nr_rsrq", unit: "dB", type: .float64, intervalMilliseconds: modemInterval),
        PointDescriptor(
            device: "modem", name: "nr_snr", unit: "dB", type: .float64, intervalMilliseconds: modemInterval),
        PointDescriptor(
            device: "gateway", name: "agent_version", unit: "", type: .string, intervalMilliseconds: 60_000),
        PointDescriptor(device: "gateway", name: "uptime", unit: "s", type: .uint64, intervalMilliseconds: 60_000),
        PointDescriptor(
            device: "gateway", name: "spool_backlog", unit: "", type: .uint64, intervalMilliseconds: 60_000),
        PointDescriptor(
            device: "gateway", name: "dropped_overflow", unit: "", type: .uint64, kind: .counter,
            intervalMilliseconds: 60_000),
        PointDescriptor(
            device: "gateway", name: "dropped_age", unit: "", type: .uint64, kind: .counter,
            intervalMilliseconds: 60_000),
        PointDescriptor(
            device: "gateway", name: "sink_collector_failures", unit: "", type: .uint64, intervalMilliseconds: 60_000),
        PointDescriptor(device: "gateway", name: "cpu_usage", unit: "%", type: .float64, intervalMilliseconds: 60_000),
        PointDescriptor(device: "gateway", name: "memory_rss", unit: "B", type: .uint64, intervalMilliseconds: 60_000),
    ]
    static let modemAliases = 0..<9
    static let gatewayAliases = 9..<points.count

    /// One modem poll. `nil` signal values are missing with `quality`.
    struct Poll {
        var time: Int64
        var technology: AccessTechnology?
        var operatorCode: UInt64?
        var operatorName: String?
        var lte: (rsrp: Double, rsrq: Double, snr: Double)?
        var nr: (rsrp: Double, rsrq: Double, snr: Double)?
        var quality: WireQuality = .notAvailable
    }

    let dictionary: SchemaDictionary
    let gateway: Int64
    let store: CollectorStore
    private var sequence: UInt64 = 0
    private var dictionarySent = false
    /// Every request's arrival time and body size.
    private(set) var requests: [(now: Int64, bytes: Int)] = []

    init(_ fixture: ConsoleFixture, name: String, site: String) throws {
        dictionary = SchemaDictionary(gateway: name, points: Self.points, batchMaximumAgeMilliseconds: 60_000)
        gateway = try fixture.gateway(name, site: site)
        store = fixture.store
    }

    static func float(_ v: Double?, _ quality: WireQuality) -> WireValue {
        v.map { .float64(bits: $0.bitPattern) } ?? .missing(quality)
    }

    static func modemValues(_ p: Poll) -> [WireValue] {
        [
            p.technology.map { .uint(UInt64($0.rawValue)) } ?? .missing(p.quality),
            p.operatorCode.map { .uint($0) } ?? .missing(p.quality),
            p.operatorName.map { .string($0) } ?? .missing(p.quality),
            float(p.lte?.rsrp, p.quality), float(p.lte?.rsrq, p.quality), float(p.lte?.snr, p.quality),
            float(p.nr?.rsrp, p.quality), float(p.nr?.rsrq, p.quality), float(p.nr?.snr, p.quality),
        ]
    }

    /// Stores one request holding one batch of these groups (first alias, values), arriving at `now`.
    func send(_ groups: [(time: Int64, first: Int, values: [WireValue])], now: Int64) throws {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 8)
        defer { buffer.deallocate() }
        let encoder = BatchEncoder(dictionary: dictionary, buffer: buffer)
        encoder.begin(epoch: 1, sequence: sequence, baseTimeMilliseconds: groups.first?.time ?? 0)
        sequence += 1
        for group in groups {
            try group.values.withUnsafeBufferPointer {
                try encoder.append(
                    timeMilliseconds: group.time, clock: .synchronised, firstAlias: group.first, values: $0)
            }
        }
        let frame = Array(try encoder.seal())
        guard case .batch(let batch) = try FrameDecoder.decode(frame, dictionary: { _ in self.dictionary }).frame else {
            throw CancellationError()
        }
        var dictionaries: [(dictionary: SchemaDictionary, schemaID: UInt64, frame: [UInt8])] = []
        if !dictionarySent {
            dictionaries.append((dictionary, dictionary.schemaID, dictionary.frame()))
            dictionarySent = true
        }
        _ = try store.store(
            dictionaries: dictionaries, batches: [batch], gateway: gateway, bytes: frame.count, now: now)
        requests.append((now, frame.count))
    }

    func modem(_ polls: [Poll], now: Int64) throws {
        try send(polls.map { ($0.time, Self.modemAliases.lowerBound, Self.modemValues($0)) }, now: now)
    }
}

@Suite struct TelecomTests {
    let calendar = LocalCalendar(timeZone: TimeZone(identifier: "Asia/Ho_Chi_Minh")!)
    let formatting = Formatting(timeZone: TimeZone(identifier: "Asia/Ho_Chi_Minh")!)

    /// The `tr.gateway` row of `name` in the fleet page.
    static func fleetRow(_ html: String, _ name: String) throws -> String {
        let start = try #require(html.range(of: "<tr class=\"gateway\" data-gateway=\"\(name)\""))
        let end = try #require(html.range(of: "</tr>", range: start.upperBound..<html.endIndex))
        return String(html[start.lowerBound..<end.upperBound])
    }

    static func linkCell(_ row: String) throws -> String {
        let start = try #require(row.range(of: "<td class=\"link\""))
        let end = try #require(row.range(of: "</td>", range: start.upperBound..<row.endIndex))
        return String(row[start.lowerBound..<end.upperBound])
    }

    @Test func theFleetShowsEachLinkWithItsBands() throws {
        let f = try ConsoleFixture()
        let now: Int64 = 1_741_000_000_000
        // LTE: RSRP −85 (good), RSRQ −12.5 (good), SNR 8 (mid cell); an operator name that is markup.
        let lte = try BuiltinIngest(f, name: "gw-lte", site: "north")
        try lte.modem(
            [
                .init(
                    time: now - 90_000, technology: .lte, operatorCode: 45204, operatorName: "<script>x</script>",
                    lte: (-101, -21, -3)),
                .init(
                    time: now - 60_000, technology: .lte, operatorCode: 45204, operatorName: "<script>x</script>",
                    lte: (-85, -12.5, 8)),
            ], now: now - 55_000)
        // 5G NSA with good NR values: the NR ones; RSRP −80 is on the threshold, so excellent.
        let nsa = try BuiltinIngest(f, name: "gw-nsa", site: "north")
        try nsa.modem(
            [
                .init(
                    time: now - 30_000, technology: .nrNonStandalone, operatorCode: 45201, operatorName: "MobiFone",
                    lte: (-95, -11, 14), nr: (-80, -10, 20))
            ], now: now - 25_000)
        // 5G NSA whose NR values are not available: the LTE anchor's.
        let anchor = try BuiltinIngest(f, name: "gw-anchor", site: "north")
        try anchor.modem(
            [.init(time: now - 30_000, technology: .nrNonStandalone, operatorCode: 45202, lte: (-105, -16, 0.5))],
            now: now - 25_000)
        // A modem that is not registered: every signal point not ready; and a gateway without a modem at all.
        let searching = try BuiltinIngest(f, name: "gw-searching", site: "north")
        try searching.modem([.init(time: now - 30_000, quality: .notReady)], now: now - 25_000)
        let plain = try f.gateway("gw-plain", site: "north", lastSeen: now - 1000)
        try f.readings(try f.point(try f.device(plain, "meter"), "power"), [.init(time: now - 1000, value: 1)])

        let gateways = try f.store.fleet(calendar: calendar, now: now)
        let html = FleetPage.render(gateways, sites: try f.store.sites(), site: nil, formatting, now: now)

        let lteCell = try Self.linkCell(try Self.fleetRow(html, "gw-lte"))
        #expect(lteCell.contains("data-technology=\"lte\" data-radio=\"LTE\" data-operator=\"45204\""))
        #expect(lteCell.contains("data-rsrp=\"-85\" data-rsrq=\"-12.5\" data-snr=\"8\" data-band=\"mid-cell\""))
        #expect(lteCell.contains("data-measured-ms=\"\(now - 60_000)\""))
        #expect(lteCell.contains("<span class=\"signal band-good\" data-measure=\"rsrp\""))
        #expect(lteCell.contains("<span class=\"signal band-good\" data-measure=\"rsrq\""))
        #expect(lteCell.contains("<span class=\"signal band-mid-cell\" data-measure=\"snr\""))
        #expect(lteCell.contains("&lt;script&gt;x&lt;/script&gt;"))
        #expect(!html.contains("<script>x"))

        let nsaCell = try Self.linkCell(try Self.fleetRow(html, "gw-nsa"))
        #expect(nsaCell.contains("data-technology=\"5g-nsa\" data-radio=\"NR\""))
        #expect(nsaCell.contains("data-rsrp=\"-80\" data-rsrq=\"-10\" data-snr=\"20\" data-band=\"excellent\""))
        #expect(nsaCell.contains(">MobiFone</span>"))

        let anchorCell = try Self.linkCell(try Self.fleetRow(html, "gw-anchor"))
        #expect(anchorCell.contains("data-radio=\"LTE\""))
        #expect(anchorCell.contains("data-rsrp=\"-105\" data-rsrq=\"-16\" data-snr=\"0.5\" data-band=\"cell-edge\""))
        #expect(anchorCell.contains("<span class=\"operator\">45202</span>"))

        for name in ["gw-searching", "gw-plain"] {
            let cell = try Self.linkCell(try Self.fleetRow(html, name))
            #expect(cell.contains("data-link=\"none\"") && cell.contains("—"), "\(name)")
            #expect(!cell.contains("error"))
        }
        // Every band, by the one table.
        #expect(SignalBand.band(-79.9, of: "rsrp") == .excellent && SignalBand.band(-90, of: "rsrp") == .good)
        #expect(SignalBand.band(-100, of: "rsrp") == .midCell && SignalBand.band(-100.1, of: "rsrp") == .cellEdge)
        #expect(SignalBand.band(13, of: "snr") == .good && SignalBand.band(-0.1, of: "snr") == .cellEdge)
    }

    /// Nearest-rank percentile of `values`, rounded down to a whole dB: computed here from the inputs, not the bins.
    static func expectedPercentile(_ values: [Double], _ percent: Int) -> Int64? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        let rank = Int((Double(percent) / 100 * Double(sorted.count)).rounded(.up))
        return Int64(sorted[max(rank, 1) - 1].rounded(.down))
    }

    @Test func coverageAndTelecomReportAreExactToTheDecibel() throws {
        let f = try ConsoleFixture()
        let march = try #require(calendar.period(year: 2025, month: 3))
        let (from, to) = (march.lowerBound, march.upperBound)
        var random = SeededRandom(seed: 7)
        // What went in, by operator and point: the values read in March, local time.
        var expected: [Int64: [String: [Double]]] = [:]
        var techHeld: [Int64: Int64] = [:]
        var arrivals: [Int64] = []
        var bytesInMarch: Int64 = 0

        var ingests: [BuiltinIngest] = []
        for (index, name) in ["gw-1", "gw-2"].enumerated() {
            let ingest = try BuiltinIngest(f, name: name, site: "north")
            ingests.append(ingest)
            // Polls every 30 s from 2 h before the local month begins, in runs, across the UTC day boundary (local
            // 07:00) and on until 3 h after the month ends; gw-1 changes operator halfway.
            var times: [Int64] = []
            for start in [from - 7_200_000, from + 10 * 3_600_000, from + 15 * 86_400_000, to - 3_600_000] {
                times += (0..<240).map { start + Int64($0) * 30_000 + Int64(index) * 7_000 }
            }
            var polls: [BuiltinIngest.Poll] = []
            for (i, time) in times.enumerated() {
                let op: UInt64 = index == 0 && i >= times.count / 2 ? 45201 : 45204
                let technology: AccessTechnology = [.lte, .lte, .nrNonStandalone, .umts][(i / 37) % 4]
                let steps = Double(Int.random(in: 0...120, using: &random))
                let rsrp = -125 + steps * 0.5
                let snr = -5 + Double(Int.random(in: 0...70, using: &random)) * 0.5
                var poll = BuiltinIngest.Poll(
                    time: time, technology: technology, operatorCode: op, operatorName: "op-\(op)",
                    lte: (rsrp, -11, snr))
                if technology == .nrNonStandalone { poll.nr = (rsrp + 3, -10, snr + 1) }
                if i % 11 == 5 {  // not registered: no operator, no signal
                    poll = BuiltinIngest.Poll(time: time, quality: .notReady)
                }
                polls.append(poll)
                if time >= from && time < to, poll.operatorCode != nil {
                    expected[Int64(op), default: [:]]["lte_rsrp", default: []].append(rsrp)
                    expected[Int64(op), default: [:]]["lte_snr", default: []].append(snr)
                    if technology == .nrNonStandalone {
                        expected[Int64(op), default: [:]]["nr_rsrp", default: []].append(rsrp + 3)
                        expected[Int64(op), default: [:]]["nr_snr", default: []].append(snr + 1)
                    }
                }
            }
            // Technology time: each good reading holds until the next, at most twice the interval, within March.
            for (poll, next) in zip(polls, polls.dropFirst()) {
                guard let technology = poll.technology else { continue }
                let end = min(next.time, poll.time + 2 * Int64(BuiltinIngest.modemInterval))
                let held = max(0, min(end, to) - max(poll.time, from))
                techHeld[Int64(technology.rawValue), default: 0] += held
            }
            // One request per 20 polls, arriving 4 s after the last.
            for chunk in stride(from: 0, to: polls.count, by: 20) {
                let part = Array(polls[chunk..<min(chunk + 20, polls.count)])
                let arrival = part.last!.time + 4_000
                try ingest.modem(part, now: arrival)
                arrivals.append(arrival)
                if arrival >= from && arrival < to { bytesInMarch += Int64(ingest.requests.last!.bytes) }
            }
        }

        let now = to + 86_400_000
        let report = try #require(
            try f.store.report(site: "north", period: .month(year: 2025, month: 3), calendar: calendar, now: now))
        let t = report.telecom
        #expect(t.operators.map(\.code) == [45201, 45204])
        #expect(t.operators.map(\.name) == ["op-45201", "op-45204"])
        for op in t.operators {
            for measure in SiteTelecom.Measure.allCases {
                let values = expected[op.code]?[measure.rawValue] ?? []
                let d = op.distributions[measure] ?? SignalDistribution()
                #expect(d.total == Int64(values.count), "\(op.code) \(measure)")
                for p in [50, 10] {
                    #expect(d.percentile(p) == Self.expectedPercentile(values, p), "\(op.code) \(measure) p\(p)")
                }
                // 5 dB buckets: counted from the inputs.
                var buckets: [Int64: Int64] = [:]
                for v in values { buckets[Int64((v / 5).rounded(.down)) * 5, default: 0] += 1 }
                for bucket in d.buckets(width: 5) {
                    #expect(bucket.count == buckets[bucket.low] ?? 0, "\(op.code) \(measure) \(bucket.low)")
                }
            }
        }
        let all = expected.values.flatMap { $0["lte_rsrp"] ?? [] }
        #expect(t.distributions[.lteRSRP]?.percentile(50) == Self.expectedPercentile(all, 50))
        #expect(t.distributions[.lteRSRP]?.percentile(10) == Self.expectedPercentile(all, 10))
        // Radio time, time-weighted, in the period only.
        #expect(t.uplink.technologyMilliseconds == techHeld.filter { $0.value > 0 })
        // Uplink: the passed whole hours of March with an upload, of 2 gateways × 744 hours.
        let hours = Set(arrivals.filter { $0 >= from && $0 < to }.map { $0 / 3_600_000 })
        let perGateway = ingests.map { ingest in
            Set(ingest.requests.map(\.now).filter { $0 >= from && $0 < to }.map { $0 / 3_600_000 }).count
        }
        #expect(t.uplink.hoursCounted == 2 * 744)
        #expect(t.uplink.hoursWithUploads == Int64(perGateway.reduce(0, +)))
        #expect(hours.count <= perGateway.reduce(0, +))
        #expect(t.uplink.bytes == bytesInMarch)
        #expect(report.bytes == bytesInMarch)
        // gw-1's main operator is the one most of its March readings were on; gw-2 was only ever on 45204.
        #expect(t.gateways.map(\.name) == ["gw-1", "gw-2"])
        #expect(t.gateways[1].operatorCode == 45204)

        // The page carries the same numbers, and the coverage bars.
        let html = ReportPage.render(
            report, sites: try f.store.sites(), site: "north", period: "2025-03", error: nil, formatting, now: now)
        let op = t.operators[1]
        let p50 = try #require(op.distributions[.lteRSRP]?.percentile(50))
        #expect(html.contains("<tr class=\"operator\" data-operator=\"45204\" data-lte-rsrp-readings="))
        #expect(html.contains("data-lte-rsrp-p50=\"\(p50)\""))
        let figure =
            "<figure class=\"distribution\" data-measure=\"lte_rsrp\" data-operator=\"45204\" "
            + "data-readings=\"\(expected[45204]!["lte_rsrp"]!.count)\">"
        #expect(html.contains(figure))
        let firstBucket = try #require(op.distributions[.lteRSRP]?.buckets(width: 5).first { $0.count > 0 })
        #expect(
            html.contains(
                "data-low=\"\(firstBucket.low)\" data-high=\"\(firstBucket.low + 5)\" data-count=\"\(firstBucket.count)\""
            ))

        // The CSV: the second table, numbers as numbers.
        let csv = ReportCSV.render(report)
        let lines = csv.components(separatedBy: "\r\n")
        let header = try #require(lines.firstIndex(of: ReportCSV.telecomHeader.joined(separator: ",")))
        let row = lines[header + 2].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        #expect(row[0] == "north" && row[1] == "45204" && row[2] == "op-45204")
        #expect(row[5] == "\(p50)")
        #expect(lines[header + 3].hasPrefix("north,all,,2,"))
    }

    @Test func aHostileOperatorNameIsEscapedAndNeutralised() throws {
        let f = try ConsoleFixture()
        let march = try #require(calendar.period(year: 2025, month: 3))
        let ingest = try BuiltinIngest(f, name: "gw-x", site: "s")
        let name = "=cmd|' /C calc'!A0<script>alert(1)</script>"
        try ingest.modem(
            [
                .init(
                    time: march.lowerBound + 60_000, technology: .lte, operatorCode: 45204, operatorName: name,
                    lte: (-90, -10, 10))
            ],
            now: march.lowerBound + 70_000)
        let now = march.lowerBound + 3_600_000
        let report = try #require(
            try f.store.report(site: "s", period: .month(year: 2025, month: 3), calendar: calendar, now: now))
        let html = ReportPage.render(
            report, sites: try f.store.sites(), site: "s", period: "2025-03", error: nil, formatting, now: now)
        #expect(!html.contains("<script>alert"))
        #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        let csv = ReportCSV.render(report)
        #expect(
            csv.contains(",\"'=cmd|' /C calc'!A0<script>alert(1)</script>\",") || csv.contains(",'=cmd|' /C calc'!A0"))
        #expect(!csv.contains(",=cmd"))
        let fleet = FleetPage.render(
            try f.store.fleet(calendar: calendar, now: now), sites: try f.store.sites(), site: nil, formatting, now: now
        )
        #expect(!fleet.contains("<script>alert") && fleet.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
    }

    @Test func theGatewayPageShowsTheAgentsHealth() async throws {
        let f = try ConsoleFixture()
        let now: Int64 = 1_741_000_000_000
        let ingest = try BuiltinIngest(f, name: "gw-h", site: "north")
        // An hour of the gateway device: a backlog that grows and drains, an overflow drop at minute 30.
        var groups: [(time: Int64, first: Int, values: [WireValue])] = []
        for minute in 0..<60 {
            let time = now - Int64(60 - minute) * 60_000
            groups.append(
                (
                    time, BuiltinIngest.gatewayAliases.lowerBound,
                    [
                        .string("0.8.0<b>"), .uint(UInt64(3600 + minute * 60)),
                        .uint(UInt64(minute < 40 ? minute * 10 : 0)), .uint(minute >= 30 ? 25 : 0), .uint(0),
                        .uint(minute == 45 ? 3 : 0), .float64(bits: 1.5.bitPattern), .uint(12_500_000),
                    ]
                ))
        }
        try ingest.send(groups, now: now - 1000)
        let token = try f.store.addReader("operator", now: 0)
        nonisolated(unsafe) let fixture = f
        let console = ConsoleApp(
            executor: StoreExecutor(store: fixture.store),
            settings: ConsoleSettings(sessionMilliseconds: 3_600_000, signInRate: 0.001, signInBurst: 10),
            now: { now })
        let app = Application(router: console.router())
        try await app.test(.router) { client in
            let signIn = try await ConsoleHTTPTests.signIn(client, token)
            let cookie = try #require(ConsoleHTTPTests.cookie(signIn))
            var headers = HTTPFields()
            headers[.cookie] = cookie
            let page = try await client.execute(uri: "/gateways/gw-h?range=24h", method: .get, headers: headers)
            #expect(page.status == .ok)
            let html = String(buffer: page.body)
            #expect(html.contains("<dl class=\"summary health\" id=\"health\">"))
            #expect(html.contains("data-point=\"agent_version\" data-value=\"0.8.0&lt;b&gt;\">0.8.0&lt;b&gt;"))
            #expect(html.contains("data-point=\"uptime\" data-value=\"7140.0\">119 min"))
            #expect(html.contains("data-point=\"cpu_usage\" data-value=\"1.5\">1.5 %"))
            #expect(html.contains("data-point=\"memory_rss\" data-value=\"12500000.0\">12.5 MB"))
            for point in ["spool_backlog", "dropped_overflow", "sink_collector_failures"] {
                #expect(html.contains("<svg class=\"plot\" data-point=\"\(point)\""), "\(point)")
            }
            // A drop counter that never moved is named, not drawn.
            #expect(!html.contains("<svg class=\"plot\" data-point=\"dropped_age\""))
            #expect(html.contains("id=\"no-drops\">No readings dropped in this range: dropped_age."))
            #expect(html.contains("<dd class=\"link\" data-link=\"none\">"))
        }
    }
}
