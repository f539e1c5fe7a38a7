import Testing
import TramConfig
import TramWrite

/// The planner's guards and encodings, case by case: what a technician types → the words sent, or the refusal.
@Suite("Write planner")
struct WritePlannerTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var target: WriteTarget
        var value: String
        /// `FCn words` (hex words or 1/0 coils), or `refused <reason>`.
        var expected: String
        var testDescription: String { name }
    }

    static func holding(
        _ type: ValueType, order: WordOrder = .abcd, scale: Double = 1, offset: Double = 0,
        rule: WriteRule? = WriteRule(),
        unit: Int = 1, function: Int? = nil
    ) -> WriteTarget {
        WriteTarget(
            unit: unit, table: .holding, address: 10, type: type, order: order, scale: scale, offset: offset,
            rule: rule,
            pointName: "dev.p", functionCode: function)
    }

    static let cases: [Case] = [
        Case(
            name: "47.3 at scale 0.1 is raw 473", target: holding(.int16, scale: 0.1), value: "47.3",
            expected: "FC6 0x01D9"),
        Case(
            name: "47.35 at scale 0.1 is no whole step", target: holding(.int16, scale: 0.1), value: "47.35",
            expected: "refused bad_value"),
        Case(
            name: "offset undone before scale", target: holding(.uint16, scale: 0.5, offset: -40), value: "10",
            expected: "FC6 0x0064"),
        Case(name: "int16 negative", target: holding(.int16), value: "-2", expected: "FC6 0xFFFE"),
        Case(name: "int16 overflow", target: holding(.int16), value: "40000", expected: "refused out_of_range"),
        Case(name: "uint16 negative", target: holding(.uint16), value: "-1", expected: "refused out_of_range"),
        Case(name: "uint32 ABCD", target: holding(.uint32), value: "0x12345678", expected: "FC16 0x1234 0x5678"),
        Case(
            name: "uint32 CDAB", target: holding(.uint32, order: .cdab), value: "305419896",
            expected: "FC16 0x5678 0x1234"),
        Case(
            name: "int32 BADC", target: holding(.int32, order: .badc), value: "305419896",
            expected: "FC16 0x3412 0x7856"),
        Case(
            name: "int32 DCBA", target: holding(.int32, order: .dcba), value: "305419896",
            expected: "FC16 0x7856 0x3412"),
        Case(name: "float32 ABCD", target: holding(.float32), value: "12.5", expected: "FC16 0x4148 0x0000"),
        Case(
            name: "float32 CDAB", target: holding(.float32, order: .cdab), value: "12.5", expected: "FC16 0x0000 0x4148"
        ),
        Case(name: "float64", target: holding(.float64), value: "1", expected: "FC16 0x3FF0 0x0000 0x0000 0x0000"),
        Case(
            name: "uint64 DCBA", target: holding(.uint64, order: .dcba), value: "1",
            expected: "FC16 0x0100 0x0000 0x0000 0x0000"),
        Case(
            name: "FC16 forced for one register", target: holding(.uint16, function: 16), value: "5",
            expected: "FC16 0x0005"),
        Case(
            name: "FC6 cannot carry two registers", target: holding(.uint32, function: 6), value: "5",
            expected: "refused bad_value"),
        Case(
            name: "string padded with NUL", target: holding(.string(registers: 2)), value: "AB",
            expected: "FC16 0x4142 0x0000"),
        Case(
            name: "string too long", target: holding(.string(registers: 1)), value: "ABC", expected: "refused bad_value"
        ),
        Case(name: "not a number", target: holding(.uint16), value: "ten", expected: "refused bad_value"),
        Case(
            name: "below min", target: holding(.uint16, rule: WriteRule(minimum: 1, maximum: 247)), value: "0",
            expected: "refused out_of_range"),
        Case(
            name: "above max", target: holding(.uint16, rule: WriteRule(minimum: 1, maximum: 247)), value: "248",
            expected: "refused out_of_range"),
        Case(
            name: "in range", target: holding(.uint16, rule: WriteRule(minimum: 1, maximum: 247)), value: "247",
            expected: "FC6 0x00F7"),
        Case(
            name: "not a listed value", target: holding(.float32, rule: WriteRule(values: [0, 1, 2])), value: "3",
            expected: "refused out_of_range"),
        Case(
            name: "a listed value", target: holding(.float32, rule: WriteRule(values: [0, 1, 2])), value: "2",
            expected: "FC16 0x4000 0x0000"),
        Case(name: "not writable", target: holding(.uint16, rule: nil), value: "1", expected: "refused not_writable"),
        Case(name: "broadcast refused", target: holding(.uint16, unit: 0), value: "1", expected: "refused bad_unit"),
        Case(name: "unit 248 refused", target: holding(.uint16, unit: 248), value: "1", expected: "refused bad_unit"),
        Case(name: "a bit: mask write", target: holding(.bit(3)), value: "on", expected: "FC22 bit 3 = 1"),
        Case(name: "a bit: 2 is no bit", target: holding(.bit(3)), value: "2", expected: "refused bad_value"),
        Case(
            name: "a coil", target: WriteTarget(unit: 1, table: .coil, address: 0, type: .bool, rule: WriteRule()),
            value: "1", expected: "FC5 1"),
        Case(
            name: "a coil with FC15",
            target: WriteTarget(unit: 1, table: .coil, address: 0, type: .bool, rule: WriteRule(), functionCode: 15),
            value: "false", expected: "FC15 0"),
        Case(
            name: "input registers are read-only",
            target: WriteTarget(unit: 1, table: .input, address: 0, type: .uint16, rule: WriteRule()), value: "1",
            expected: "refused not_writable"),
    ]

    @Test("by map", arguments: cases)
    func plan(_ example: Case) {
        switch WritePlanner.plan(example.target, value: example.value) {
        case .success(let plan): #expect("FC\(plan.functionCode) \(plan.rawText)" == example.expected)
        case .failure(let refusal):
            #expect("refused \(refusal.reason.rawValue)" == example.expected, "\(refusal.message)")
        }
    }

    @Test("a write by address needs --force; with it, no rule applies")
    func raw() throws {
        let target = WriteTarget(unit: 1, table: .holding, address: 0, type: .uint16)
        guard case .failure(let refusal) = WritePlanner.planRaw(target, value: "7", force: false) else {
            Issue.record("a raw write without force was planned")
            return
        }
        #expect(refusal.reason == .needsForce)
        let plan = try WritePlanner.planRaw(target, value: "7", force: true).get()
        #expect(plan.rawText == "0x0007" && plan.functionCode == 6)
    }

    @Test("the plan says what it will send and shows the scaled value as the register will hold it")
    func summary() throws {
        let plan = try WritePlanner.plan(Self.holding(.int16, scale: 0.1), value: "47.3").get()
        #expect(plan.engineering == "47.3")
        #expect(plan.summary == "dev.p unit 1, FC6, holding 10 (0x000A), 1 register: 0x01D9 = 47.3")
    }
}
