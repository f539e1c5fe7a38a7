/// What a device accepts in one request. Many meters accept less than the
/// protocol's 125 registers, and some only even counts.
public struct RequestLimits: Sendable, Hashable {
    /// Registers per read (Modbus allows 125).
    public var maxRegisters: Int
    /// Bits per coil or discrete-input read (Modbus allows 2000).
    public var maxBits: Int
    /// The device rejects odd register counts (Eastron).
    public var evenCount: Bool
    /// Largest run of unused registers worth reading through to save a request.
    public var maxGap: Int
    /// Silence between two requests to this device.
    public var pause: Duration

    public static let modbusMaxRegisters = 125
    public static let modbusMaxBits = 2000

    /// Defaults: the protocol's maxima, odd counts allowed, read through gaps of up to 10 registers, no pause.
    public static let `default` = RequestLimits(
        maxRegisters: 125, maxBits: 2000, evenCount: false, maxGap: 10, pause: .zero)

    public init(maxRegisters: Int, maxBits: Int, evenCount: Bool, maxGap: Int, pause: Duration) {
        self.maxRegisters = maxRegisters
        self.maxBits = maxBits
        self.evenCount = evenCount
        self.maxGap = maxGap
        self.pause = pause
    }
}
