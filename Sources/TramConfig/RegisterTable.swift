/// The four Modbus data tables, named as device manuals name them.
public enum RegisterTable: String, Sendable, Hashable, CaseIterable, Comparable {
    case coil
    case discreteInput = "discrete_input"
    case input
    case holding

    /// Coils and discrete inputs hold single bits; the others 16-bit registers.
    public var holdsBits: Bool { self == .coil || self == .discreteInput }

    /// The Modbus read function code.
    public var functionCode: Int {
        switch self {
        case .coil: 1
        case .discreteInput: 2
        case .holding: 3
        case .input: 4
        }
    }

    /// Order in plans: by function code.
    public static func < (a: RegisterTable, b: RegisterTable) -> Bool { a.functionCode < b.functionCode }

    static let spellings: [(String, RegisterTable)] = [
        ("coil", .coil), ("discrete_input", .discreteInput), ("input", .input), ("holding", .holding),
        ("coils", .coil), ("discrete", .discreteInput), ("input_register", .input), ("holding_register", .holding),
    ]
}
