import TramConfig

/// What a write will send, before it is sent: shown to the technician for confirmation, carried over the control
/// socket, and audited.
public struct WritePlan: Sendable, Equatable {
    /// The request's payload.
    public enum Payload: Sendable, Equatable {
        /// Holding registers, with function 6 (one) or 16.
        case registers([UInt16])
        /// Coils, with function 5 (one) or 15.
        case coils([Bool])
        /// One bit of a holding register: function 22 (mask write) when the device has it, else a read of the
        /// register and a write of it with the bit changed, both on the bus owner's thread.
        case bit(index: Int, value: Bool)
    }

    public var target: WriteTarget
    public var functionCode: Int
    public var payload: Payload
    /// The value as the technician gave it, in engineering units, and as the registers will hold it.
    public var engineering: String
    public var readback: WriteRule.Readback
    public var note: String

    public init(
        target: WriteTarget, functionCode: Int, payload: Payload, engineering: String, readback: WriteRule.Readback,
        note: String
    ) {
        self.target = target
        self.functionCode = functionCode
        self.payload = payload
        self.engineering = engineering
        self.readback = readback
        self.note = note
    }

    /// The words or bits as the request carries them: `0x01D9 0x0000`, `1 0 1`, `bit 3 = 1`.
    public var rawText: String {
        switch payload {
        case .registers(let words): words.map(WritePlan.hex).joined(separator: " ")
        case .coils(let bits): bits.map { $0 ? "1" : "0" }.joined(separator: " ")
        case .bit(let index, let value): "bit \(index) = \(value ? 1 : 0)"
        }
    }

    /// One line for the technician: unit, function, address, raw, engineering value.
    public var summary: String {
        let what = target.pointName.map { "\($0) " } ?? ""
        let function =
            functionCode == 22 ? "FC22 (mask write; read-modify-write if the device lacks it)" : "FC\(functionCode)"
        return "\(what)unit \(target.unit), \(function), \(target.table.rawValue) \(target.address) "
            + "(\(WritePlan.hex(UInt16(target.address)))), \(target.count) \(target.table == .coil ? "coil" : "register")"
            + "\(target.count == 1 ? "" : "s"): \(rawText) = \(engineering)"
    }

    public static func hex(_ word: UInt16) -> String {
        let digits = String(word, radix: 16, uppercase: true)
        return "0x" + String(repeating: "0", count: 4 - digits.count) + digits
    }
}
