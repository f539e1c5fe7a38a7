/// What a point's values mean over time, as the device map says (`kind: counter`).
///
/// A counter only grows (until it wraps or the meter is replaced), so its rate of change is what a person wants
/// to see; a gauge is shown as it is. The raw value is the wire's `u8` in the dictionary's kinds section.
public enum PointKind: UInt8, Sendable, Hashable, CaseIterable {
    /// A level that goes up and down (volts, kW, °C). The default.
    case gauge = 0
    /// A running total (kWh imported, litres through a meter).
    case counter = 1

    /// The spelling in device maps and in tramctl's output.
    public var name: String {
        switch self {
        case .gauge: "gauge"
        case .counter: "counter"
        }
    }
}
