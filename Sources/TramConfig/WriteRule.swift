/// What a point's `writable: true` allows: the values a technician may write to it with `tramctl write`, and how the
/// write is checked. A point without one is read-only, whatever its table.
public struct WriteRule: Sendable, Hashable {
    /// After a write, read the registers back and compare (`expect`, the default), or not (`none`: a command
    /// register that clears itself, such as a fault acknowledge or an energy reset).
    public enum Readback: String, Sendable, Hashable, CaseIterable {
        case expect
        case none

        static let spellings: [(String, Readback)] = allCases.map { ($0.rawValue, $0) }
    }

    /// The lowest and highest engineering value accepted (after scale and offset), when the profile gives them.
    public var minimum: Double?
    public var maximum: Double?
    /// The only engineering values accepted (a baud or parity code), when the profile lists them.
    public var values: [Double]?
    public var readback: Readback
    /// A function code the device needs instead of the usual one: 16 where it refuses 6 for one register (Eastron
    /// setup registers), 15 where it refuses 5 for one coil.
    public var functionCode: Int?
    /// What the manual says about when the written value applies (after a save, a power cycle, a key).
    public var note: String

    public init(
        minimum: Double? = nil, maximum: Double? = nil, values: [Double]? = nil, readback: Readback = .expect,
        functionCode: Int? = nil, note: String = ""
    ) {
        self.minimum = minimum
        self.maximum = maximum
        self.values = values
        self.readback = readback
        self.functionCode = functionCode
        self.note = note
    }
}
