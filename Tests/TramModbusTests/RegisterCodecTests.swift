import Testing
import TramTestSupport
import TramConfig
import TramLineProtocol
import TramModbus
import TramSchema
import TramCore

/// Decodes `point` from `words`, where `words[0]` is the register at the point's address.
private func decode(_ point: Point, _ words: [UInt16]) -> RawValue {
    words.withUnsafeBufferPointer { RegisterCodec.decode(point, registers: $0, base: point.address) }
}

private func point(
    _ type: ValueType, _ order: WordOrder = .abcd, table: RegisterTable = .holding, address: Int = 100,
    notAvailable: [Sentinel] = []
) -> Point {
    Point(name: "p", table: table, address: address, type: type, order: order, notAvailable: notAvailable)
}

/// Register words as the device sends them, per order, for one value: hand-computed.
private struct Vector: Sendable, CustomTestStringConvertible {
    var type: ValueType
    var expected: RawValue
    var words: [WordOrder: [UInt16]]
    var testDescription: String { "\(type) \(expected)" }
}

private let vectors: [Vector] = [
    // int16 -12345 = 0xCFC7; BADC/DCBA swap the two bytes of the one register.
    Vector(
        type: .int16, expected: .int(-12345),
        words: [
            .abcd: [0xCFC7], .cdab: [0xCFC7], .badc: [0xC7CF], .dcba: [0xC7CF],
        ]),
    // uint16 0xABCD = 43981.
    Vector(
        type: .uint16, expected: .uint(43981),
        words: [
            .abcd: [0xABCD], .cdab: [0xABCD], .badc: [0xCDAB], .dcba: [0xCDAB],
        ]),
    // int32 -123456789 = 0xF8A432EB.
    Vector(
        type: .int32, expected: .int(-123_456_789),
        words: [
            .abcd: [0xF8A4, 0x32EB], .cdab: [0x32EB, 0xF8A4], .badc: [0xA4F8, 0xEB32], .dcba: [0xEB32, 0xA4F8],
        ]),
    // uint32 0x12345678 = 305419896.
    Vector(
        type: .uint32, expected: .uint(305_419_896),
        words: [
            .abcd: [0x1234, 0x5678], .cdab: [0x5678, 0x1234], .badc: [0x3412, 0x7856], .dcba: [0x7856, 0x3412],
        ]),
    // float32 123.456 = 0x42F6E979.
    Vector(
        type: .float32, expected: .float32(123.456),
        words: [
            .abcd: [0x42F6, 0xE979], .cdab: [0xE979, 0x42F6], .badc: [0xF642, 0x79E9], .dcba: [0x79E9, 0xF642],
        ]),
    // float32 -0.0 = 0x80000000: the sign survives.
    Vector(
        type: .float32, expected: .float32(-0.0),
        words: [
            .abcd: [0x8000, 0x0000], .cdab: [0x0000, 0x8000], .badc: [0x0080, 0x0000], .dcba: [0x0000, 0x0080],
        ]),
    // int64 -1234567890123456789 = 0xEEDDEF0B82167EEB.
    Vector(
        type: .int64, expected: .int(-1_234_567_890_123_456_789),
        words: [
            .abcd: [0xEEDD, 0xEF0B, 0x8216, 0x7EEB], .cdab: [0x7EEB, 0x8216, 0xEF0B, 0xEEDD],
            .badc: [0xDDEE, 0x0BEF, 0x1682, 0xEB7E], .dcba: [0xEB7E, 0x1682, 0x0BEF, 0xDDEE],
        ]),
    // int64 0x0102030405060708 = 72623859790382856.
    Vector(
        type: .int64, expected: .int(72_623_859_790_382_856),
        words: [
            .abcd: [0x0102, 0x0304, 0x0506, 0x0708], .cdab: [0x0708, 0x0506, 0x0304, 0x0102],
            .badc: [0x0201, 0x0403, 0x0605, 0x0807], .dcba: [0x0807, 0x0605, 0x0403, 0x0201],
        ]),
    // uint64 0xFEDCBA9876543210 = 18364758544493064720 (above Int64.max).
    Vector(
        type: .uint64, expected: .uint(18_364_758_544_493_064_720),
        words: [
            .abcd: [0xFEDC, 0xBA98, 0x7654, 0x3210], .cdab: [0x3210, 0x7654, 0xBA98, 0xFEDC],
            .badc: [0xDCFE, 0x98BA, 0x5476, 0x1032], .dcba: [0x1032, 0x5476, 0x98BA, 0xDCFE],
        ]),
    // float64 123.456 = 0x405EDD2F1A9FBE77.
    Vector(
        type: .float64, expected: .float64(123.456),
        words: [
            .abcd: [0x405E, 0xDD2F, 0x1A9F, 0xBE77], .cdab: [0xBE77, 0x1A9F, 0xDD2F, 0x405E],
            .badc: [0x5E40, 0x2FDD, 0x9F1A, 0x77BE], .dcba: [0x77BE, 0x9F1A, 0x2FDD, 0x5E40],
        ]),
]

@Suite("RegisterCodec")
struct RegisterCodecTests {
    @Test("every type × every order against hand-computed words", arguments: vectors)
    fileprivate func handComputed(_ vector: Vector) {
        #expect(vector.words.count == WordOrder.allCases.count)
        for order in WordOrder.allCases {
            let words = vector.words[order]!
            #expect(words.count == vector.type.registerCount)
            let value = decode(point(vector.type, order), words)
            #expect(value == vector.expected, "decode \(order)")
            // Equal values can hide a different sign of zero or NaN payload: compare the bits too.
            #expect(
                RegisterCodec.bits(of: value, type: vector.type)
                    == RegisterCodec.bits(of: vector.expected, type: vector.type), "bits \(order)")
            // The simulator's half writes exactly these words.
            let bits = RegisterCodec.bits(of: vector.expected, type: vector.type)!
            #expect(
                RegisterCodec.encode(bits: bits, registerCount: vector.type.registerCount, order: order) == words,
                "encode \(order)")
        }
    }

    @Test("the brief's float32 123.456 words")
    func float32Example() {
        let bits = UInt64(Float(123.456).bitPattern)
        #expect(bits == 0x42F6_E979)
        #expect(RegisterCodec.encode(bits: bits, registerCount: 2, order: .abcd) == [0x42F6, 0xE979])
        #expect(RegisterCodec.encode(bits: bits, registerCount: 2, order: .cdab) == [0xE979, 0x42F6])
        #expect(RegisterCodec.encode(bits: bits, registerCount: 2, order: .badc) == [0xF642, 0x79E9])
        #expect(RegisterCodec.encode(bits: bits, registerCount: 2, order: .dcba) == [0x79E9, 0xF642])
    }

    @Test("a point is decoded at its offset from the request's base")
    func offsetFromBase() {
        let p = point(.uint32, address: 12)
        let value = [UInt16(0xDEAD), 0xBEEF, 0x0001, 0x0002, 0xFFFF].withUnsafeBufferPointer {
            RegisterCodec.decode(p, registers: $0, base: 10)
        }
        #expect(value == .uint(0x0001_0002))
    }

    @Test("NaN payloads and signalling NaNs stay bit-exact")
    func nanBits() throws {
        for order in WordOrder.allCases {
            for pattern: UInt64 in [0x7FC0_0000, 0x7FC0_0001, 0x7F80_0001, 0xFFC1_2345, 0xFFFF_FFFF] {
                let words = RegisterCodec.encode(bits: pattern, registerCount: 2, order: order)
                let value = decode(point(.float32, order), words)
                guard case .float32(let f) = value else { Issue.record("not a float32: \(value)"); continue }
                #expect(f.isNaN)
                #expect(UInt64(f.bitPattern) == pattern, "float32 \(order) 0x\(String(pattern, radix: 16))")
                #expect(RegisterCodec.bits(of: value, type: .float32) == pattern)
            }
            for pattern: UInt64 in [
                0x7FF8_0000_0000_0000, 0x7FF8_0000_0000_0123, 0x7FF0_0000_0000_0001, 0xFFF8_DEAD_BEEF_0001,
            ] {
                let words = RegisterCodec.encode(bits: pattern, registerCount: 4, order: order)
                let value = decode(point(.float64, order), words)
                guard case .float64(let d) = value else { Issue.record("not a float64: \(value)"); continue }
                #expect(d.isNaN)
                #expect(d.bitPattern == pattern, "float64 \(order) 0x\(String(pattern, radix: 16))")
            }
        }
    }

    @Test("not-available sentinels: SunSpec int16 0x8000, uint16 0xFFFF, acc32 0, NaN")
    func sentinels() {
        let int16 = point(.int16, notAvailable: [.bits(0x8000)])
        #expect(decode(int16, [0x8000]) == .int(-32768))
        #expect(RegisterCodec.isNotAvailable(decode(int16, [0x8000]), point: int16))
        #expect(!RegisterCodec.isNotAvailable(decode(int16, [0x8001]), point: int16))
        #expect(!RegisterCodec.isNotAvailable(decode(int16, [0x0000]), point: int16))
        // The same marker in a byte-swapped register.
        let swapped = point(.int16, .badc, notAvailable: [.bits(0x8000)])
        #expect(RegisterCodec.isNotAvailable(decode(swapped, [0x0080]), point: swapped))

        let uint16 = point(.uint16, notAvailable: [.bits(0xFFFF)])
        #expect(RegisterCodec.isNotAvailable(decode(uint16, [0xFFFF]), point: uint16))
        #expect(!RegisterCodec.isNotAvailable(decode(uint16, [0xFFFE]), point: uint16))

        let acc32 = point(.uint32, .cdab, notAvailable: [.bits(0)])
        #expect(RegisterCodec.isNotAvailable(decode(acc32, [0, 0]), point: acc32))
        #expect(!RegisterCodec.isNotAvailable(decode(acc32, [0, 1]), point: acc32))

        // int32 0x80000000, word-swapped on the wire.
        let int32 = point(.int32, .cdab, notAvailable: [.bits(0x8000_0000)])
        #expect(RegisterCodec.isNotAvailable(decode(int32, [0x0000, 0x8000]), point: int32))
        #expect(!RegisterCodec.isNotAvailable(decode(int32, [0x8000, 0x0000]), point: int32))

        let float = point(.float32, notAvailable: [.nan])
        #expect(RegisterCodec.isNotAvailable(decode(float, [0x7FC0, 0x0000]), point: float))
        #expect(RegisterCodec.isNotAvailable(decode(float, [0xFFFF, 0xFFFF]), point: float))
        #expect(
            !RegisterCodec.isNotAvailable(decode(float, [0x7F80, 0x0000]), point: float), "infinity is a value, not NaN"
        )
        #expect(!RegisterCodec.isNotAvailable(decode(float, [0x42F6, 0xE979]), point: float))

        let double = point(.float64, .dcba, notAvailable: [.nan])
        #expect(
            RegisterCodec.isNotAvailable(
                decode(double, RegisterCodec.encode(bits: 0x7FF8_0000_0000_0001, registerCount: 4, order: .dcba)),
                point: double))

        // No sentinels: nothing is "not available", not even NaN.
        #expect(!RegisterCodec.isNotAvailable(decode(point(.float32), [0x7FC0, 0]), point: point(.float32)))
    }

    @Test("sentinels as a profile writes them decode to the markers the codec compares")
    func sentinelsFromProfile() throws {
        let yaml = """
            profile: { vendor: T, model: T, source: "test" }
            address_base: 0
            defaults: { table: holding }
            points:
              - { name: sf, address: 0, type: int16, not_available: [-32768] }
              - { name: hex, address: 1, type: int16, not_available: [0x8000] }
              - { name: enum, address: 2, type: uint16, not_available: [0xFFFF] }
              - { name: acc, address: 3, type: uint32, not_available: [0] }
              - { name: f, address: 5, type: float32, not_available: [nan, .nan] }
              - { name: big, address: 7, type: uint64, not_available: [18446744073709551615] }
            """
        let result = DeviceMapLoader(source: InMemoryConfigSource(["p.yaml": yaml])).loadProfile("p.yaml")
        #expect(result.diagnostics.isEmpty, "\(result.diagnostics)")
        let points = try #require(result.value).points
        #expect(
            points.map(\.notAvailable) == [
                [.bits(0x8000)], [.bits(0x8000)], [.bits(0xFFFF)], [.bits(0)], [.nan, .nan], [.bits(.max)],
            ])
        #expect(RegisterCodec.isNotAvailable(decode(points[0], [0x8000]), point: points[0]))
        #expect(RegisterCodec.isNotAvailable(decode(points[5], [0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF]), point: points[5]))
    }

    @Test("strings: two characters a register, stop at NUL, trailing spaces dropped")
    func strings() {
        #expect(decode(point(.string(registers: 4)), [0x4865, 0x6C6C, 0x6F00, 0x0000]) == .string("Hello"))
        #expect(decode(point(.string(registers: 3)), [0x4865, 0x6C6C, 0x6F21]) == .string("Hello!"), "no terminator")
        #expect(decode(point(.string(registers: 3)), [0x4869, 0x2020, 0x2020]) == .string("Hi"), "space padded")
        #expect(decode(point(.string(registers: 3)), [0x2048, 0x6920, 0x0000]) == .string(" Hi"), "leading space kept")
        #expect(
            decode(point(.string(registers: 3)), [0x4100, 0x4243, 0x4400]) == .string("A"),
            "text after the first NUL is dropped")
        #expect(decode(point(.string(registers: 2)), [0x0000, 0x4142]) == .string(""))
        #expect(decode(point(.string(registers: 2)), [0x2020, 0x2020]) == .string(""))
        #expect(decode(point(.string(registers: 2)), [0x4120, 0x2042]) == .string("A  B"), "inner spaces kept")
        // Byte-swapped registers (BADC, DCBA): low byte first.
        #expect(decode(point(.string(registers: 3), .badc), [0x6548, 0x6C6C, 0x006F]) == .string("Hello"))
        #expect(decode(point(.string(registers: 3), .dcba), [0x6548, 0x6C6C, 0x006F]) == .string("Hello"))
        // Register order is never reversed for text: CDAB reads like ABCD.
        #expect(decode(point(.string(registers: 2), .cdab), [0x4142, 0x4344]) == .string("ABCD"))
        // Bytes that are not UTF-8 do not trap; they become U+FFFD.
        #expect(decode(point(.string(registers: 1)), [0xFF41]) == .string("\u{FFFD}A"))
    }

    @Test("bits of a register and coils")
    func bits() {
        for bit in 0..<16 {
            let word = UInt16(1) << UInt16(bit)
            #expect(decode(point(.bit(bit)), [word]) == .bool(true))
            #expect(decode(point(.bit(bit)), [~word]) == .bool(false))
            #expect(decode(point(.bit(bit), .dcba), [word]) == .bool(true), "order does not apply to bits")
        }
        #expect(decode(point(.bit(0)), [0x8001]) == .bool(true))
        #expect(decode(point(.bit(15)), [0x8001]) == .bool(true))
        #expect(decode(point(.bit(1)), [0x8001]) == .bool(false))
        #expect(decode(point(.bool, table: .coil), [1]) == .bool(true))
        #expect(decode(point(.bool, table: .coil), [0]) == .bool(false))
        #expect(decode(point(.bool, table: .discreteInput), [1]) == .bool(true))
        #expect(RegisterCodec.bits(of: .bool(true), type: .bool) == nil)
        #expect(RegisterCodec.bits(of: .string("x"), type: .string(registers: 1)) == nil)
    }

    @Test("round trip: encode then decode gives back the bits, for random values, all orders and widths")
    func roundTrip() {
        var random = SeededRandom(seed: 0x7261_6D21)
        let types: [ValueType] = [.int16, .uint16, .int32, .uint32, .float32, .int64, .uint64, .float64]
        var checked = 0
        for _ in 0..<2000 {
            for type in types {
                let width = type.registerCount
                var bits = random.next()
                if width < 4 { bits &= (1 << UInt64(16 * width)) - 1 }
                // Edge values now and then: all zeros, all ones, sign bit only.
                switch random.next() % 16 {
                case 0: bits = 0
                case 1: bits = width == 4 ? .max : (1 << UInt64(16 * width)) - 1
                case 2: bits = 1 << UInt64(16 * width - 1)
                default: break
                }
                for order in WordOrder.allCases {
                    let words = RegisterCodec.encode(bits: bits, registerCount: width, order: order)
                    #expect(words.count == width)
                    let value = decode(point(type, order), words)
                    let back = RegisterCodec.bits(of: value, type: type)
                    if back != bits {
                        Issue.record(
                            "\(type) \(order): 0x\(String(bits, radix: 16)) → \(words) → \(value) → \(back.map { String($0, radix: 16) } ?? "nil")"
                        )
                    }
                    checked += 1
                }
            }
        }
        #expect(checked == 2000 * 8 * 4)
    }

    @Test("integers keep their type and sign")
    func integerKinds() {
        #expect(decode(point(.int16), [0xFFFF]) == .int(-1))
        #expect(decode(point(.uint16), [0xFFFF]) == .uint(65535))
        #expect(decode(point(.int32), [0x8000, 0x0000]) == .int(Int64(Int32.min)))
        #expect(decode(point(.uint32), [0xFFFF, 0xFFFF]) == .uint(UInt64(UInt32.max)))
        #expect(decode(point(.int64), [0x8000, 0, 0, 0]) == .int(.min))
        #expect(decode(point(.uint64), [0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF]) == .uint(.max))
        #expect(RegisterCodec.bits(of: .int(-1), type: .int16) == 0xFFFF)
        #expect(RegisterCodec.bits(of: .int(-1), type: .int32) == 0xFFFF_FFFF)
        #expect(RegisterCodec.bits(of: .int(-1), type: .int64) == .max)
    }
}

@Suite("Engineering values")
struct EngineeringTests {
    @Test("raw × 10^sf: raw 2304 with exponent -1 is exactly 2304.0 / 10")
    func sunSpecExample() {
        #expect(Engineering.value(.int(2304), scale: 1, offset: 0, exponent: -1) == 2304.0 / 10)
        #expect(Engineering.value(.int(2304), scale: 1, offset: 0, exponent: -1) == 230.4)
        #expect(Engineering.value(.uint(2304), scale: 1, offset: 0, exponent: -1) == 230.4)
    }

    @Test("negative exponents give the double nearest the decimal value")
    func negativeExponentsAreCorrectlyRounded() {
        // 3 × 0.1 would be 0.30000000000000004.
        #expect(Engineering.value(.int(3), scale: 1, offset: 0, exponent: -1) == 0.3)
        #expect(Engineering.value(.int(-7), scale: 1, offset: 0, exponent: -2) == -0.07)
        var mismatches: [String] = []
        for raw in stride(from: -40000, through: 40000, by: 7) {
            for k in 1...6 {
                var power = 1.0
                for _ in 0..<k { power *= 10 }
                let expected = Double(raw) / power
                if Engineering.value(.int(Int64(raw)), scale: 1, offset: 0, exponent: -k) != expected {
                    mismatches.append("\(raw)e-\(k)")
                }
            }
        }
        #expect(
            mismatches.count == 0, "\(mismatches.count) values differ from raw / 10^k, e.g. \(mismatches.prefix(5))")
    }

    @Test("a decimal scale gives the double nearest the decimal value, on the agent's side and the collector's alike")
    func decimalScalesAreCorrectlyRounded() {
        // 473 × 0.1 would be 47.300000000000004: what a plant's dashboard would show for a meter's 47.3.
        let tenth = PointDescriptor(device: "meter", name: "u", unit: "V", type: .uint16, scale: 0.1)
        #expect(Engineering.value(.uint(473), scale: 0.1, offset: 0) == 47.3)
        #expect(ReadingValue(.uint(473), descriptor: tenth, exponent: nil).engineering == 47.3)
        var mismatches: [String] = []
        for raw in stride(from: -40000, through: 40000, by: 7) {
            var power = 1.0
            for k in 1...6 {
                power *= 10
                let scale = 1 / power
                let expected = Double(raw) / power
                let agent = Engineering.value(.int(Int64(raw)), scale: scale, offset: 0)
                let collector = EngineeringValue.of(Double(raw), scale: scale, offset: 0)
                if agent != expected || collector != expected { mismatches.append("\(raw) × 1e-\(k)") }
            }
        }
        #expect(
            mismatches.count == 0, "\(mismatches.count) values differ from raw / 10^k, e.g. \(mismatches.prefix(5))")
        // Other scales multiply, as before: 0.5, a third, 10, and a negative tenth.
        for scale in [0.5, 1.0 / 3, 10, -0.1] {
            #expect(Engineering.value(.int(473), scale: scale, offset: 0) == 473 * scale)
            #expect(EngineeringValue.of(473, scale: scale, offset: 0) == 473 * scale)
        }
    }

    @Test("positive exponents, scale and offset")
    func scaleOffsetExponent() {
        #expect(Engineering.value(.int(5), scale: 1, offset: 0, exponent: 2) == 500)
        #expect(Engineering.value(.int(12), scale: 1, offset: 0, exponent: 0) == 12)
        #expect(Engineering.value(.int(100), scale: 0.5, offset: -40) == 10)
        #expect(Engineering.value(.uint(150), scale: 2, offset: 0, exponent: -2) == 3)
        #expect(Engineering.value(.int(-250), scale: 1, offset: 273.15, exponent: -1) == -250.0 / 10 + 273.15)
        #expect(Engineering.value(.int(1), scale: 1, offset: 0, exponent: 3) == 1000)
        #expect(Engineering.value(.float32(1.5), scale: 2, offset: 1) == 4)
        #expect(Engineering.value(.float64(-2.25), scale: 4, offset: 0, exponent: 1) == -90)
        #expect(Engineering.value(.uint(UInt64.max), scale: 1, offset: 0) == 18_446_744_073_709_551_615.0)
    }

    @Test("bools are 0 or 1 whatever the scale; strings have no engineering value")
    func nonNumbers() {
        #expect(Engineering.value(.bool(true), scale: 10, offset: 5) == 1)
        #expect(Engineering.value(.bool(false), scale: 10, offset: 5) == 0)
        #expect(Engineering.value(.string("12"), scale: 1, offset: 0) == nil)
    }

    @Test("extreme exponents saturate instead of trapping")
    func extremeExponents() {
        #expect(Engineering.value(.int(1), scale: 1, offset: 0, exponent: 400) == .infinity)
        #expect(Engineering.value(.int(1), scale: 1, offset: 0, exponent: -400) == 0)
        #expect(Engineering.value(.int(1), scale: 1, offset: 0, exponent: Int(Int16.min)) == 0)
        #expect(Engineering.value(.int(-1), scale: 1, offset: 0, exponent: Int(Int16.max)) == -.infinity)
        // The collector takes exponents from frames off the network: any Int64, Int64.min included.
        #expect(EngineeringValue.of(1, scale: 1, offset: 0, exponent: .min) == 0)
        #expect(EngineeringValue.of(1, scale: 1, offset: 0, exponent: .max) == .infinity)
    }

    @Test("NaN raw values stay NaN")
    func nanRaw() throws {
        let value = try #require(Engineering.value(.float32(.nan), scale: 2, offset: 1))
        #expect(value.isNaN)
    }
}
