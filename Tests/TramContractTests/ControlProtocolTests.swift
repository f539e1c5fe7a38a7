import Testing
import TramControlProtocol
import TramJSON

@Suite("TramControlProtocol: requests and answers encode and decode with the same types")
struct ControlProtocolTests {
    static let requests: [ControlRequest] = [
        .status, .statusPage(from: 0, count: 100), .statusPage(from: 3_300, count: 1), .version,
        .cycles(after: 0, device: nil), .cycles(after: 4_611_686_018_427_387_903, device: "meter-1"),
        .read(
            ControlReadRequest(
                serialDevice: "/dev/ttyUSB0", unit: 7, table: "holding", address: 40001 - 40001, count: 10)),
        .write(ControlWriteRequest(target: .point(device: "boiler 1", point: "setpoint"), value: "47.3 \"x\"")),
        .write(
            ControlWriteRequest(
                target: .address(
                    link: "rtu:///dev/ttyUSB0", unit: 3, table: "holding", address: 20, type: "float32", order: "CDAB"),
                value: "-1.5", functionCode: 16, force: true, dryRun: true)),
    ]

    static let writeAnswers: [ControlWriteResult] = {
        let plan = ControlWriteResult.Plan(
            link: "plc", summary: "boiler.setpoint unit 1, FC6, holding 10 (0x000A), 1 register: 0x01D9 = 47.3 °C",
            functionCode: 6, raw: "0x01D9", engineering: "47.3 °C", readback: "expect", note: "applies at once")
        return [
            ControlWriteResult(.refused(reason: "out_of_range", message: "90 °C is above boiler.setpoint's max 80 °C")),
            ControlWriteResult(.planned(plan)),
            ControlWriteResult(
                .sent(
                    plan,
                    .init(
                        result: "verified", succeeded: true, method: "FC6", detail: "", before: [232], after: [473],
                        beforeValue: "23.2 °C", afterValue: "47.3 °C", roundTripNanoseconds: 1_234_567))),
            ControlWriteResult(
                .sent(
                    plan,
                    .init(
                        result: "failed", succeeded: false, method: "FC6", detail: "timeout", before: [232], after: nil,
                        roundTripNanoseconds: 0))),
        ]
    }()

    @Test("every write answer round-trips through its JSON", arguments: writeAnswers)
    func writeAnswer(_ answer: ControlWriteResult) throws {
        #expect(try ControlWriteResult.decode(answer.bytes) == answer)
    }

    @Test("every request round-trips through its line", arguments: requests)
    func request(_ request: ControlRequest) throws {
        #expect(try ControlRequest(line: request.line) == request)
    }

    @Test("request lines as the agent has always read them")
    func requestLines() throws {
        #expect(ControlRequest.cycles(after: 12, device: "m").line == "cycles 12 m")
        #expect(try ControlRequest(line: "cycles") == .cycles(after: 0, device: nil))
        #expect(try ControlRequest(line: "cycles soon") == .cycles(after: 0, device: nil))
        #expect(throws: ControlError.readUsage) { try ControlRequest(line: "read /dev/ttyS0 1 holding") }
        #expect(try ControlRequest(line: "status 200 100") == .statusPage(from: 200, count: 100))
        for wrong in ["status -1 10", "status 0 0", "status a b"] {
            #expect(throws: ControlError.self, "\(wrong)") { try ControlRequest(line: wrong) }
        }
        #expect(throws: ControlError.unknownRequest("reboot")) { try ControlRequest(line: "reboot") }
        #expect(
            ControlError.unknownRequest(String(repeating: "x", count: 100)).message
                == "unknown request '\(String(repeating: "x", count: 40))'; expected status, cycles, read, write or version"
        )
    }

    static let point = ControlPoint(
        name: "voltage", value: .number(230.4), unit: "V", quality: "good", timeMilliseconds: 1_700_000_000_123)

    static var status: ControlStatus {
        ControlStatus(
            agent: .init(
                version: "0.7.0", pid: 42, uptimeMilliseconds: 5000, config: "/etc/tram/agent.yaml", gateway: "gw-1",
                reloads: 1,
                lastReloadError: nil, alive: true),
            clock: .init(synchronised: true, stepped: false),
            devices: [
                .init(
                    name: "meter-1", link: "rs485", unit: 1, health: "online", lastError: "timeout \"x\"",
                    latencyMilliseconds: 12.5,
                    cycles: 10, failedCycles: 1, pollIntervalMilliseconds: 1000,
                    points: [
                        point,
                        ControlPoint(
                            name: "serial", value: .text("AB-12"), unit: "", quality: "good", timeMilliseconds: 1),
                        ControlPoint(name: "energy", value: nil, unit: "kWh", quality: "pending", timeMilliseconds: 0),
                    ])
            ],
            writer: .init(
                readingsProduced: 100, batchesSealed: 2, readingsSealed: 90, readingsDroppedQueueFull: 0,
                readingsDroppedUnencodable: 1, lastSealMilliseconds: 1_700_000_000_000),
            spool: .init(
                directory: "/var/lib/tram/spool", diskBytes: 4096, maximumBytes: 1 << 30, segments: 1, epoch: 3,
                oldestBufferedMilliseconds: nil, heldInMemory: 0, appended: .init(readings: 90, batches: 2),
                delivered: .init(readings: 45, batches: 1), buffered: .init(readings: 45, batches: 1),
                dropped: ["evicted": .init(readings: 0, batches: 0), "disk_full": .init(readings: 3, batches: 1)]),
            uplinks: [
                .init(
                    sink: "collector", url: "https://c.example/v1/ingest", state: "delivering", problem: nil,
                    uploads: 3,
                    failedUploads: 0, batchesDelivered: 1, batchesRejected: 0, bytesOnWire: 900, budgetUsedToday: 900,
                    budgetLimit: nil, lastDeliveryMilliseconds: 1_700_000_000_100)
            ])
    }

    @Test("a status page says where it starts and how many devices there are; a whole status says neither")
    func statusPage() throws {
        var page = Self.status
        page.page = ControlStatus.Page(from: 100, total: 250)
        let decoded = try ControlStatus.decode(page.bytes)
        #expect(decoded == page && decoded.page?.next(after: 100) == 200)
        #expect(ControlStatus.Page(from: 200, total: 250).next(after: 50) == nil)
        #expect(page.json.rendered.hasSuffix(#""devices_from":100,"devices_total":250}"#))
        #expect(try ControlStatus.decode(Self.status.bytes).page == nil)
    }

    @Test("status round-trips, in the agent's field order and names")
    func statusAnswer() throws {
        let status = Self.status
        #expect(try ControlStatus.decode(status.bytes) == status)
        let text = status.json.rendered
        #expect(
            text.hasPrefix(
                #"{"agent":{"version":"0.7.0","pid":42,"uptime_ms":5000,"config":"/etc/tram/agent.yaml","gateway":"gw-1","reloads":1,"last_reload_error":null,"alive":true},"clock":{"synchronised":true,"stepped":false},"devices":[{"name":"meter-1","link":"rs485","unit":1,"health":"online","last_error":"timeout \"x\"","latency_ms":12.5,"cycles":10,"failed_cycles":1,"poll_interval_ms":1000,"points":[{"name":"voltage","value":230.4,"unit":"V","quality":"good","time_ms":1700000000123},{"name":"serial","value":"AB-12""#
            ))
        #expect(
            text.contains(
                #""writer":{"readings_produced":100,"batches_sealed":2,"readings_sealed":90,"readings_dropped_queue_full":0,"readings_dropped_unencodable":1,"readings_suppressed":0,"last_seal_ms":1700000000000}"#
            ))
        #expect(
            text.contains(
                #""spool":{"directory":"/var/lib/tram/spool","disk_bytes":4096,"max_bytes":1073741824,"segments":1,"epoch":3,"oldest_buffered_ms":null,"held_in_memory":0,"appended":{"readings":90,"batches":2},"delivered":{"readings":45,"batches":1},"buffered":{"readings":45,"batches":1},"dropped":{"disk_full":{"readings":3,"batches":1},"evicted":{"readings":0,"batches":0}}}"#
            ))
        #expect(
            text.hasSuffix(
                #""uplinks":[{"sink":"collector","url":"https://c.example/v1/ingest","state":"delivering","problem":null,"uploads":3,"failed_uploads":0,"batches_delivered":1,"batches_rejected":0,"bytes_on_wire":900,"budget_used_today":900,"budget_limit":null,"last_delivery_ms":1700000000100}]}"#
            ))
    }

    @Test("the link round-trips after the uplinks, and reads as one line for status and top")
    func link() throws {
        var status = Self.status
        status.link = ControlStatus.Link(
            technology: "5G NSA", rsrp: -101, rsrq: -13.5, snr: 9.25, operatorName: "Viettel", quality: "good",
            problem: nil, measuredMilliseconds: 1_700_000_000_000)
        #expect(try ControlStatus.decode(status.bytes) == status)
        #expect(
            status.json.rendered.hasSuffix(
                #""link":{"technology":"5G NSA","rsrp":-101.0,"rsrq":-13.5,"snr":9.25,"operator":"Viettel","quality":"good","problem":null,"measured_ms":1700000000000}}"#
            ))
        #expect(status.link?.line == "5G NSA  RSRP -101 dBm  SNR 9.3 dB  Viettel")
        let off = ControlStatus.Link(
            technology: "LTE", rsrp: nil, rsrq: nil, snr: nil, operatorName: "Viettel", quality: "disabled",
            problem: nil, measuredMilliseconds: nil)
        #expect(off.line == "LTE  Viettel  signal polling off")
        let gone = ControlStatus.Link(
            technology: nil, rsrp: nil, rsrq: nil, snr: nil, operatorName: nil, quality: "absent",
            problem: "ModemManager has no modem", measuredMilliseconds: nil)
        #expect(gone.line == "no modem (ModemManager has no modem)")
    }

    @Test("numbers as the agent writes them: whole values without a fraction")
    func numbers() {
        #expect(JSON.number(47).rendered == "47")
        #expect(JSON.number(47.3).rendered == "47.3")
        #expect(JSON.number(-0.001).rendered == "-0.001")
        #expect(JSON.number(1e15).rendered == "1000000000000000.0")  // at 10^15 and above, as Swift prints a Double
        #expect(JSON.number(1e17).rendered == "1e+17")
        #expect(JSON.number(.nan).rendered == "null")
        #expect(JSON.number(nil).rendered == "null")
    }

    @Test("cycles round-trip")
    func cyclesAnswer() throws {
        let cycles = ControlCycles(
            cursor: 17, missed: 2, cycles: [.init(device: "meter-1", health: "degraded", points: [Self.point])])
        #expect(try ControlCycles.decode(cycles.bytes) == cycles)
        #expect(
            cycles.json.rendered
                == #"{"cursor":17,"missed":2,"cycles":[{"device":"meter-1","health":"degraded","points":[{"name":"voltage","value":230.4,"unit":"V","quality":"good","time_ms":1700000000123}]}]}"#
        )
    }

    @Test(
        "read results round-trip",
        arguments: [
            ControlReadResult(link: "rs485", roundTripNanoseconds: 1_234_567, outcome: .registers([0, 1, 65535])),
            ControlReadResult(
                link: "rs485", roundTripNanoseconds: .max,
                outcome: .failure(.init(description: "timed out", kind: .timeout))),
            ControlReadResult(
                link: "rs485", roundTripNanoseconds: 9,
                outcome: .failure(.init(description: "exception 2", kind: .exception(code: 2)))),
            ControlReadResult(
                link: "rs485", roundTripNanoseconds: 9, outcome: .failure(.init(description: "link down", kind: .link))),
        ])
    func readAnswer(_ result: ControlReadResult) throws {
        #expect(try ControlReadResult.decode(result.bytes) == result)
    }

    @Test("read results on the wire")
    func readWire() {
        #expect(
            ControlReadResult(link: "l", roundTripNanoseconds: 5, outcome: .registers([1, 2])).json.rendered
                == #"{"link":"l","round_trip_ns":5,"registers":[1,2]}"#)
        #expect(
            ControlReadResult(
                link: "l", roundTripNanoseconds: 5,
                outcome: .failure(.init(description: "e", kind: .exception(code: 2)))
            ).json.rendered
                == #"{"link":"l","round_trip_ns":5,"read_error":"e","error_kind":"exception","exception":2}"#)
    }

    @Test("version and error round-trip; an error answer is thrown as refused")
    func versionAndError() throws {
        let version = ControlVersion(version: "0.7.0")
        #expect(version.json.rendered == #"{"version":"0.7.0"}"#)
        #expect(try ControlVersion.decode(version.bytes) == version)
        let error = ControlError.notPolled("/dev/ttyS1")
        #expect(error.json.rendered == #"{"error":"the agent does not poll /dev/ttyS1"}"#)
        #expect(try ControlError.decode(error.bytes) == error)
        #expect(throws: ControlDecodingError.refused(error)) { try ControlStatus.decode(error.bytes) }
        #expect(throws: ControlDecodingError.self) { try ControlStatus.decode(Array("not json".utf8)) }
        #expect(throws: ControlDecodingError.shape(JSONShapeError(path: "version", expected: "a string"))) {
            try ControlVersion.decode(Array(#"{"version":7}"#.utf8))
        }
    }
}
