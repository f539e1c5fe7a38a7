import Foundation
import Testing
import TramCollector
import TramCollectorRelay
import TramCollectorStore
import TramLineProtocol

@Suite("Relay: Influx line protocol and the hold-back rule")
struct RelayTests {
    /// The built-in devices' readings (docs/builtin-devices.md) go out under the uniform rule, `tram_<point>` with
    /// `device="modem"` / `device="gateway"`; `technology` and `operator_code` as exact integers; the strings
    /// (`operator_name`, `agent_version`) are not sent and are counted as skipped (docs/collector.md, "Relay").
    @Test("the built-in modem and gateway devices: numbers as they are, strings skipped")
    func builtinDevices() {
        let time: Int64 = 1_764_000_000_000
        func row(
            _ id: Int64, _ device: String, _ point: String, _ type: UInt8, _ value: Double?, _ raw: Int64?,
            text: String? = nil, quality: Int = 0
        ) -> CollectorStore.RelayRow {
            CollectorStore.RelayRow(
                rowid: id,
                reading: .init(
                    gateway: "gw-1", device: device, point: point, type: type, timeMilliseconds: time, value: value,
                    rawInt: raw, rawText: text, quality: quality, clock: 1), gatewayID: 1)
        }
        let rows = [
            row(1, "modem", "technology", 3, 5, 5),
            row(2, "modem", "operator_code", 5, 45204, 45204),
            row(3, "modem", "operator_name", 10, nil, nil, text: "Viettel"),
            row(4, "modem", "lte_rsrp", 9, -95.5, Int64(bitPattern: (-95.5).bitPattern)),
            row(5, "modem", "nr_rsrp", 9, nil, nil, quality: 1),
            row(6, "gateway", "agent_version", 10, nil, nil, text: "0.8.0"),
            row(7, "gateway", "spool_backlog", 7, 1200, 1200),
            row(8, "gateway", "sink_collector_state", 3, 1, 1),
        ]
        let encoded = Relay.encode(rows, measurement: "tram", now: time)
        #expect(
            String(decoding: encoded.body, as: UTF8.self) == """
                tram,gateway=gw-1,device=modem technology=5i,operator_code=45204i,lte_rsrp=-95.5 1764000000000
                tram,gateway=gw-1,device=gateway spool_backlog=1200i,sink_collector_state=1i 1764000000000

                """)
        #expect(encoded.delta.sent == 5 && encoded.delta.skipped == 3)
    }

    @Test("escaping per the line-protocol spec")
    func escaping() {
        #expect(InfluxLine.escapeMeasurement("my meas,x=y") == #"my\ meas\,x=y"#)
        #expect(InfluxLine.escapeKey("a b,c=d") == #"a\ b\,c\=d"#)
        #expect(InfluxLine.escapeKey(#"back\slash\"#) == #"back\\slash\\"#)
        #expect(InfluxLine.escapeKey("line\nbreak\ttab") == #"line\ break\ tab"#)
        #expect(InfluxLine.escapeKey("Grüße") == "Grüße")
        #expect(InfluxLine.quoteString(#"say "hi" \o/"#) == #""say \"hi\" \\o/""#)
    }

    @Test("field values: exact integers, shortest round-trip floats, booleans")
    func fieldValues() {
        func text(_ type: UInt8, _ value: Double?, _ raw: Int64?, quality: Int = 0, rawText: String? = nil) -> String? {
            switch InfluxLine.fieldValue(type: type, value: value, rawInt: raw, rawText: rawText, quality: quality) {
            case .success(let v): return v.text
            case .failure(let why): return "skip:\(why.skip.rawValue)"
            }
        }
        #expect(text(4, -1, -1) == "-1i")  // int16 at scale 1
        #expect(text(7, 9_007_199_254_740_993, 9_007_199_254_740_993) == "9007199254740993i")  // exact beyond 2^53
        #expect(text(5, 1234.5, 12345) == "1234.5")  // uint32 × 0.1: the engineering value
        #expect(text(4, 1782.2, 17822) == "1782.2")  // SunSpec exponent −1
        #expect(text(4, nil, 17822) == "skip:no-value")  // exponent point not in the group
        #expect(text(8, Double(Float(bitPattern: 0x4366_6666)), 0x4366_6666) == "230.39999389648438")
        #expect(text(9, 1e20, nil) == "1e+20")
        #expect(text(9, -0.0, nil) == "0.0")
        #expect(text(9, .infinity, nil) == "skip:no-value")
        #expect(text(9, nil, Int64(bitPattern: 0x7FF8_0000_0000_0000)) == "skip:no-value")  // NaN
        #expect(text(1, nil, 1) == "true")
        #expect(text(1, nil, 0) == "false")
        #expect(text(10, nil, nil, rawText: "SE7600") == "skip:string")
        #expect(text(5, nil, nil, quality: 2) == "skip:missing")
        #expect(text(7, 1.8446744073709552e19, nil, rawText: "18446744073709551615") == "1.8446744073709552e+19")
    }

    @Test("a device's readings at one time share a line; names are escaped; a repeated field starts a new line")
    func writer() {
        var writer = InfluxLine.Writer()
        writer.append(
            gateway: "gw 1", device: "incomer", point: "voltage_l1", time: 1_764_000_000_000, value: .float(230.5))
        writer.append(
            gateway: "gw 1", device: "incomer", point: "energy", time: 1_764_000_000_000, value: .integer(12345))
        writer.append(gateway: "gw 1", device: "pv,2", point: "power=W", time: 1_764_000_000_000, value: .boolean(true))
        writer.append(
            gateway: "gw 1", device: "pv,2", point: "power=W", time: 1_764_000_000_000, value: .boolean(false))
        writer.append(gateway: "gw 1", device: "pv,2", point: "x", time: 1_764_000_000_001, value: .float(.nan))
        writer.append(gateway: "gw 1", device: "pv,2", point: "y", time: 1_764_000_000_001, value: .float(-2.5))
        let body = String(decoding: writer.finish(), as: UTF8.self)
        #expect(
            body == """
                tram,gateway=gw\\ 1,device=incomer voltage_l1=230.5,energy=12345i 1764000000000
                tram,gateway=gw\\ 1,device=pv\\,2 power\\=W=true 1764000000000
                tram,gateway=gw\\ 1,device=pv\\,2 power\\=W=false 1764000000000
                tram,gateway=gw\\ 1,device=pv\\,2 y=-2.5 1764000000001

                """)
        #expect(writer.lines == 4)
    }

    @Test("the hold-back rule: implausible timestamps are never sent, and counted by clock flag")
    func holdBack() {
        let now: Int64 = 1_764_000_000_000
        func row(_ id: Int64, time: Int64, clock: UInt8, value: Double = 1.5) -> CollectorStore.RelayRow {
            .init(
                rowid: id,
                reading: .init(
                    gateway: "gw", device: "d", point: "p\(id)", type: 9, timeMilliseconds: time, value: value,
                    clock: clock),
                gatewayID: id <= 3 ? 1 : 2)
        }
        let rows = [
            row(1, time: now - 1000, clock: 1),  // synchronised, plausible: sent
            row(2, time: 5_000, clock: 0),  // unsynchronised, 1970: held back
            row(3, time: now - 2000, clock: 0),  // unsynchronised but plausible: sent, counted
            row(4, time: now + HoldBackRule.aheadTolerance + 1, clock: 1),  // a day ahead: held back
            row(5, time: HoldBackRule.earliest, clock: 0),  // 2020-01-01 exactly: sent
            row(6, time: HoldBackRule.earliest - 1, clock: 2),  // stepped, not synchronised, 2019: held back
        ]
        let encoded = Relay.encode(rows, measurement: "tram", now: now)
        #expect(encoded.delta.sent == 3)
        #expect(encoded.delta.heldUnsynchronised == 2)
        #expect(encoded.delta.heldSynchronised == 1)
        #expect(encoded.delta.unsynchronisedSent == 2)
        // Per gateway (rows 1–3 are gateway 1's): 2 (1970) of gateway 1; 4 (ahead) and 6 (2019) of gateway 2.
        #expect(
            encoded.held == [
                1: .init(unsynchronised: 1, synchronised: 0), 2: .init(unsynchronised: 1, synchronised: 1),
            ])
        let body = String(decoding: encoded.body, as: UTF8.self)
        #expect(!body.contains(" 5000\n") && !body.contains("p4=") && !body.contains("p6="))
        #expect(body.contains("p1=1.5 \(now - 1000)\n") && body.contains("p5=1.5 1577836800000\n"))
    }

    @Test("relay URLs: /write by default, precision=ms always, InfluxDB 2 paths kept")
    func targets() throws {
        let vm = try RelayTarget(url: "http://127.0.0.1:8428")
        #expect(vm.host == "127.0.0.1" && vm.port == 8428 && vm.path == "/write?precision=ms")
        let v2 = try RelayTarget(
            url: "http://influx.local:8086/api/v2/write?org=plant&bucket=tram&precision=s", authorizationToken: "t0k")
        #expect(
            v2.host == "influx.local" && v2.path == "/api/v2/write?org=plant&bucket=tram&precision=ms"
                && v2.authorization == "Token t0k")
        #expect(throws: RelayError.self) { try RelayTarget(url: "https://vm:8428") }
        #expect(throws: RelayError.self) { try RelayTarget(url: "vm:8428") }
    }

    @Test(
        "the position moves only forward, with its totals; the newest rowid is never deleted, so rowids are never reused"
    )
    func position() async throws {
        let path = LiveCollector.temporaryDatabase()
        let store = try CollectorStore(path: path)
        #expect(try store.relayPosition("r").position == 0)
        var delta = CollectorStore.RelayPosition(name: "r")
        delta.sent = 5
        delta.heldUnsynchronised = 2
        try store.advanceRelay("r", to: 10, adding: delta, now: 1)
        let back = try store.advanceRelay("r", to: 3, adding: delta, now: 2)
        #expect(back.position == 10 && back.sent == 10 && back.heldUnsynchronised == 4 && back.updatedMilliseconds == 2)
        // The per-gateway hold-backs move with the position, in its transaction: summed, first and last time kept.
        try store.advanceRelay("r", to: 11, adding: .init(name: "r"), held: [7: .init(unsynchronised: 2)], now: 3)
        try store.advanceRelay(
            "r", to: 12, adding: .init(name: "r"), held: [7: .init(unsynchronised: 1, synchronised: 4)], now: 5)
        #expect(
            try Peek(path).rows(
                "SELECT relay, gateway, unsynchronised, synchronised, first_ms, last_ms FROM relay_held")
                == [["r", Int64(7), Int64(3), Int64(4), Int64(3), Int64(5)]])
        try Peek.write(
            path,
            """
            INSERT INTO gateways(id, name, created_ms) VALUES (1, 'g', 0); INSERT INTO devices(id, gateway, name) VALUES (1, 1, 'd');
            INSERT INTO points(id, device, name, unit, type) VALUES (1, 1, 'p', '', 9);
            INSERT INTO readings(rowid, point, time_ms, value, type, quality, clock) VALUES (1, 1, 5, 1.0, 9, 0, 0), (2, 1, 6, 2.0, 9, 0, 0)
            """)
        try Peek.write(path, "DELETE FROM readings")
        #expect(try Peek(path).rows("SELECT rowid FROM readings") == [[Int64(2)]])
        try Peek.write(
            path, "INSERT INTO readings(point, time_ms, value, type, quality, clock) VALUES (1, 7, 3.0, 9, 0, 1)")
        #expect(try store.relayRows(after: 2, limit: 10).map(\.rowid) == [3])
        #expect(try store.lastReadingRowID() == 3)
    }
}
