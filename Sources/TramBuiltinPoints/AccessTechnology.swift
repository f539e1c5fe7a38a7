/// ModemManager's `MMModemAccessTechnology` mask, summarised as the generation a person would name: the modem
/// device's `technology` point. The agent makes it from the mask; the collector names and colours it.
public enum AccessTechnology: UInt16, Sendable, CaseIterable, Comparable {
    case none = 0
    case gsm = 2
    case umts = 3
    case lte = 4
    /// 5G non-standalone: NR carried beside an LTE anchor (both bits set).
    case nrNonStandalone = 5
    /// 5G standalone: NR alone.
    case nrStandalone = 6

    // Bits of MMModemAccessTechnology (ModemManager-enums.h).
    static let gsmBits: UInt64 = 1 << 1 | 1 << 2 | 1 << 3 | 1 << 4  // GSM, GSM compact, GPRS, EDGE
    static let umtsBits: UInt64 = 0x3FE0  // UMTS, HSDPA, HSUPA, HSPA, HSPA+, 1xRTT, EV-DO 0/A/B (1 << 5 … 1 << 13)
    static let lteBits: UInt64 = 1 << 14 | 1 << 16 | 1 << 17  // LTE, LTE Cat-M, LTE NB-IoT
    static let nrBits: UInt64 = 1 << 15  // 5GNR

    public init(mask: UInt64) {
        let lte = mask & Self.lteBits != 0, nr = mask & Self.nrBits != 0
        if nr {
            self = lte ? .nrNonStandalone : .nrStandalone
        } else if lte {
            self = .lte
        } else if mask & Self.umtsBits != 0 {
            self = .umts
        } else if mask & Self.gsmBits != 0 {
            self = .gsm
        } else {
            self = .none
        }
    }

    public static func < (a: AccessTechnology, b: AccessTechnology) -> Bool { a.rawValue < b.rawValue }

    /// Whether the modem has an NR carrier (its `nr_*` values are the ones to show when they are good).
    public var hasNR: Bool { self == .nrNonStandalone || self == .nrStandalone }

    /// Which carrier's signal a person is shown (tramctl's link line, the console's link cell): NR's on 5G when the
    /// modem gave an NR RSRP, else LTE's (an NSA modem's anchor carrier).
    public func showsNRSignal(nrRSRPPresent: Bool) -> Bool { hasNR && nrRSRPPresent }

    /// For HTML attributes and CSS classes: `5g-sa`, `lte`, ….
    public var slug: String {
        switch self {
        case .none: "none"
        case .gsm: "2g"
        case .umts: "3g"
        case .lte: "lte"
        case .nrNonStandalone: "5g-nsa"
        case .nrStandalone: "5g-sa"
        }
    }

    /// How the console and tramctl name it.
    public var label: String {
        switch self {
        case .none: "none"
        case .gsm: "2G"
        case .umts: "3G"
        case .lte: "LTE"
        case .nrNonStandalone: "5G NSA"
        case .nrStandalone: "5G SA"
        }
    }
}
