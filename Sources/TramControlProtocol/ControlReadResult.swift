import TramJSON

/// The answer to `read`: the registers (bits as 0 and 1), or why the device gave none.
///
///     {"link":…,"round_trip_ns":N,"registers":[N…]}
///     {"link":…,"round_trip_ns":N,"read_error":…,"error_kind":"timeout"|"exception"|"link"[,"exception":code]}
public struct ControlReadResult: ControlMessage {
    public enum Outcome: Sendable, Equatable {
        case registers([UInt16])
        case failure(ControlReadFailure)
    }

    /// The link (by name) that serves the serial port.
    public var link: String
    public var roundTripNanoseconds: UInt64
    public var outcome: Outcome

    public init(link: String, roundTripNanoseconds: UInt64, outcome: Outcome) {
        self.link = link
        self.roundTripNanoseconds = roundTripNanoseconds
        self.outcome = outcome
    }

    public var json: JSON {
        var members: [(String, JSON)] = [("link", .string(link)), ("round_trip_ns", .uint(roundTripNanoseconds))]
        switch outcome {
        case .registers(let registers):
            members.append(("registers", .array(registers.map { .int(Int64($0)) })))
        case .failure(let failure):
            members.append(("read_error", .string(failure.description)))
            switch failure.kind {
            case .timeout: members.append(("error_kind", .string("timeout")))
            case .exception(let code):
                members += [("error_kind", .string("exception")), ("exception", .int(Int64(code)))]
            case .link: members.append(("error_kind", .string("link")))
            }
        }
        return .object(members)
    }

    public init(json: JSON) throws(JSONShapeError) {
        let outcome: Outcome
        if let registers = try json.optionalField(
            "registers", "an array of registers",
            { (item: JSON) -> [UInt16]? in
                guard let items = item.arrayValue else { return nil }
                let values = items.compactMap { $0.int64Value.flatMap(UInt16.init(exactly:)) }
                return values.count == items.count ? values : nil
            })
        {
            outcome = .registers(registers)
        } else {
            let kind: ControlReadFailure.Kind =
                switch try json.optionalString("error_kind") {
                case "timeout": .timeout
                case "exception": .exception(code: try json.optionalInt("exception") ?? 0)
                default: .link
                }
            outcome = .failure(
                ControlReadFailure(description: try json.optionalString("read_error") ?? "no answer", kind: kind))
        }
        self.init(
            link: try json.optionalString("link") ?? "", roundTripNanoseconds: try json.uint64("round_trip_ns"),
            outcome: outcome)
    }
}

/// Why a `read` through the agent gave no registers.
public struct ControlReadFailure: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// The device did not answer in time.
        case timeout
        /// The device answered with a Modbus exception code.
        case exception(code: Int)
        /// Anything else: the link is down, the port failed, …
        case link
    }

    /// The agent's description of the error.
    public var description: String
    public var kind: Kind

    public init(description: String, kind: Kind) {
        self.description = description
        self.kind = kind
    }
}
