import TramBuiltinPoints
/// What one poll learnt of a modem, each part with why it is missing when it is.
///
/// Nothing here identifies a subscriber: the reader never asks for an IMEI, IMSI, ICCID or own number.
public struct ModemSnapshot: Sendable, Equatable {
    /// A part of the snapshot that may be missing, and why.
    public enum Part<Value: Sendable & Equatable>: Sendable, Equatable {
        case value(Value)
        /// Turned off (signal polling off, location not enabled) or refused by policy.
        case disabled
        /// The modem is not registered yet, so the network has not said.
        case notReady
        /// The modem does not offer it (no such interface, no such key).
        case notAvailable
    }

    public struct Signal: Sendable, Equatable {
        /// Each key of ModemManager's `Lte` or `Nr5g` dictionary that was present, as given.
        public var values: [String: Double]
    }

    public struct Cell: Sendable, Equatable {
        public var lac: UInt32?
        public var tac: UInt32?
        public var cellID: UInt64?
    }

    /// The modem's D-Bus object path.
    public var path: String
    public var state: Int64
    public var accessTechnologies: UInt64
    public var signalQuality: UInt64
    public var registration: Part<UInt64>
    public var operatorCode: Part<UInt32>
    public var operatorName: Part<String>
    /// `Signal.Rate` (seconds; 0 off), or why it is missing.
    public var signalRate: Part<UInt64>
    public var lte: Part<Signal>
    public var nr: Part<Signal>
    public var cell: Part<Cell>
    /// A read ModemManager refused (polkit), in words to log; the parts it would have filled say `disabled`.
    public var refusal: String?

    /// `MMModem3gppRegistrationState` values that mean "on a network": home, roaming, and their SMS-only and
    /// CSFB-not-preferred variants.
    static let registeredStates: Set<UInt64> = [1, 5, 6, 7, 9, 10]

    public var isRegistered: Bool {
        if case .value(let state) = registration { return Self.registeredStates.contains(state) }
        return false
    }

    public var technology: AccessTechnology { AccessTechnology(mask: accessTechnologies) }
}
