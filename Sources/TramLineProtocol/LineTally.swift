/// What became of readings rendered as line protocol: sent as a field, skipped, or held back.
///
/// The collector's relay keeps these as its persisted totals; the uplink's line-protocol sink reports them per upload.
public struct LineTally: Sendable, Equatable {
    /// Readings written as a field.
    public var sent = 0
    /// Readings with nothing to send (``InfluxLine/Skip``: missing, string, NaN or no exponent).
    public var skipped = 0
    /// Readings held back by ``HoldBackRule`` although their group's clock was synchronised (an NTP claim was wrong).
    public var heldSynchronised = 0
    /// Readings held back by ``HoldBackRule`` from a clock that was not synchronised (the expected case: never set).
    public var heldUnsynchronised = 0
    /// Readings sent although their group's clock was not synchronised (their timestamp was plausible).
    public var unsynchronisedSent = 0

    public init() {}

    public static func += (left: inout LineTally, right: LineTally) {
        left.sent += right.sent
        left.skipped += right.skipped
        left.heldSynchronised += right.heldSynchronised
        left.heldUnsynchronised += right.heldUnsynchronised
        left.unsynchronisedSent += right.unsynchronisedSent
    }
}

extension InfluxLine.Writer {
    /// Appends one reading by the rules of docs/collector.md, "Relay": held back when its time is implausible
    /// (``HoldBackRule``), skipped when it has no field value (``InfluxLine/fieldValue(type:value:rawInt:rawText:quality:)``),
    /// else written as a field. `tally` says which.
    ///
    /// - Parameters:
    ///   - synchronised: whether the group's clock was synchronised when it was stamped (its flag's bit 0).
    ///   - now: the sender's wall clock in milliseconds, for the hold-back rule's upper bound.
    public mutating func append(
        gateway: String, device: String, point: String, time: Int64, synchronised: Bool,
        type: UInt8, value: Double?, rawInt: Int64?, rawText: String?, quality: Int,
        now: Int64, tally: inout LineTally
    ) {
        guard HoldBackRule.plausible(time, now: now) else {
            if synchronised { tally.heldSynchronised += 1 } else { tally.heldUnsynchronised += 1 }
            return
        }
        switch InfluxLine.fieldValue(type: type, value: value, rawInt: rawInt, rawText: rawText, quality: quality) {
        case .failure:
            tally.skipped += 1
        case .success(let field):
            append(gateway: gateway, device: device, point: point, time: time, value: field)
            tally.sent += 1
            if !synchronised { tally.unsynchronisedSent += 1 }
        }
    }
}
