import TramJSON

/// What `write` asks for: a point of the agent's running config by name, or an address on one of its links.
///
///     write {"device":"meter","point":"setpoint","value":"47.3"[,"dry_run":true]}
///     write {"link":"tcp://10.0.0.5:502","unit":1,"table":"holding","address":20,"type":"float32","order":"ABCD",
///            "value":"2","force":true[,"fc":16][,"dry_run":true]}
///
/// A dry run answers the plan (what would be sent) and sends nothing: `tramctl` shows it and asks before the real
/// request. The agent checks every guard itself, whoever the client is.
public struct ControlWriteRequest: ControlMessage {
    public enum Target: Sendable, Equatable {
        case point(device: String, point: String)
        /// `link` as a URL (tcp://, rtu://, rtu+tcp://): the agent finds its own link with that endpoint.
        case address(link: String, unit: Int, table: String, address: Int, type: String, order: String)
    }

    public var target: Target
    public var value: String
    public var functionCode: Int?
    public var force: Bool
    public var dryRun: Bool

    public init(target: Target, value: String, functionCode: Int? = nil, force: Bool = false, dryRun: Bool = false) {
        self.target = target
        self.value = value
        self.functionCode = functionCode
        self.force = force
        self.dryRun = dryRun
    }

    public var json: JSON {
        var members: [(String, JSON)]
        switch target {
        case .point(let device, let point): members = [("device", .string(device)), ("point", .string(point))]
        case .address(let link, let unit, let table, let address, let type, let order):
            members = [
                ("link", .string(link)), ("unit", .int(Int64(unit))), ("table", .string(table)),
                ("address", .int(Int64(address))), ("type", .string(type)), ("order", .string(order)),
            ]
        }
        members.append(("value", .string(value)))
        if let functionCode { members.append(("fc", .int(Int64(functionCode)))) }
        if force { members.append(("force", .bool(true))) }
        if dryRun { members.append(("dry_run", .bool(true))) }
        return .object(members)
    }

    public init(json: JSON) throws(JSONShapeError) {
        let target: Target
        if let device = try json.optionalString("device") {
            target = .point(device: device, point: try json.string("point"))
        } else {
            target = .address(
                link: try json.string("link"), unit: try json.int("unit"), table: try json.string("table"),
                address: try json.int("address"), type: try json.string("type"),
                order: try json.optionalString("order") ?? "ABCD")
        }
        self.init(
            target: target, value: try json.string("value"), functionCode: try json.optionalInt("fc"),
            force: try json.optionalField("force", "true or false", \.boolValue) ?? false,
            dryRun: try json.optionalField("dry_run", "true or false", \.boolValue) ?? false)
    }
}

/// The answer to `write`: the plan, and either a refusal or (unless a dry run) what the device did.
///
///     {"link":…,"plan":…,"function":16,"raw":"0x4000 0x0000","engineering":"2","readback":"expect","note":…,
///      "result":"verified","method":"FC16","before":[…],"after":[…],"round_trip_ns":N}
///     {"refused":"out_of_range","message":"…"}
public struct ControlWriteResult: ControlMessage {
    public struct Plan: Sendable, Equatable {
        public var link: String
        public var summary: String
        public var functionCode: Int
        public var raw: String
        public var engineering: String
        public var readback: String
        public var note: String

        public init(
            link: String, summary: String, functionCode: Int, raw: String, engineering: String, readback: String,
            note: String
        ) {
            self.link = link
            self.summary = summary
            self.functionCode = functionCode
            self.raw = raw
            self.engineering = engineering
            self.readback = readback
            self.note = note
        }
    }

    public struct Outcome: Sendable, Equatable {
        /// `verified`, `written`, `mismatch`, `exception_N`, `read_failed`, `failed`, `readback_failed`.
        public var result: String
        public var succeeded: Bool
        public var method: String
        public var detail: String
        public var before: [UInt16]?
        public var after: [UInt16]?
        /// The same registers as engineering values (`47.3 °C`), as the agent decodes them for the point.
        public var beforeValue: String
        public var afterValue: String
        public var roundTripNanoseconds: UInt64

        public init(
            result: String, succeeded: Bool, method: String, detail: String, before: [UInt16]?, after: [UInt16]?,
            beforeValue: String = "", afterValue: String = "", roundTripNanoseconds: UInt64
        ) {
            self.beforeValue = beforeValue
            self.afterValue = afterValue
            self.result = result
            self.succeeded = succeeded
            self.method = method
            self.detail = detail
            self.before = before
            self.after = after
            self.roundTripNanoseconds = roundTripNanoseconds
        }
    }

    public enum Answer: Sendable, Equatable {
        /// Refused by a guard: the reason's word (`out_of_range`, `not_allowed`, …) and the message.
        case refused(reason: String, message: String)
        /// A dry run's plan.
        case planned(Plan)
        case sent(Plan, Outcome)
    }

    public var answer: Answer

    public init(_ answer: Answer) { self.answer = answer }

    public var json: JSON {
        switch answer {
        case .refused(let reason, let message):
            return .object([("refused", .string(reason)), ("message", .string(message))])
        case .planned(let plan):
            return .object(Self.members(plan) + [("dry_run", .bool(true))])
        case .sent(let plan, let outcome):
            var members =
                Self.members(plan) + [
                    ("result", .string(outcome.result)), ("succeeded", .bool(outcome.succeeded)),
                    ("method", .string(outcome.method)), ("detail", .string(outcome.detail)),
                    ("round_trip_ns", .uint(outcome.roundTripNanoseconds)),
                ]
            if let before = outcome.before { members.append(("before", .array(before.map { .int(Int64($0)) }))) }
            if let after = outcome.after { members.append(("after", .array(after.map { .int(Int64($0)) }))) }
            if !outcome.beforeValue.isEmpty { members.append(("before_value", .string(outcome.beforeValue))) }
            if !outcome.afterValue.isEmpty { members.append(("after_value", .string(outcome.afterValue))) }
            return .object(members)
        }
    }

    static func members(_ plan: Plan) -> [(String, JSON)] {
        [
            ("link", .string(plan.link)), ("plan", .string(plan.summary)), ("function", .int(Int64(plan.functionCode))),
            ("raw", .string(plan.raw)), ("engineering", .string(plan.engineering)),
            ("readback", .string(plan.readback)), ("note", .string(plan.note)),
        ]
    }

    public init(json: JSON) throws(JSONShapeError) {
        if let reason = try json.optionalString("refused") {
            self.init(.refused(reason: reason, message: try json.string("message")))
            return
        }
        let plan = Plan(
            link: try json.string("link"), summary: try json.string("plan"), functionCode: try json.int("function"),
            raw: try json.string("raw"), engineering: try json.string("engineering"),
            readback: try json.string("readback"), note: try json.optionalString("note") ?? "")
        guard let result = try json.optionalString("result") else {
            self.init(.planned(plan))
            return
        }
        func words(_ key: String) throws(JSONShapeError) -> [UInt16]? {
            try json.optionalField(key, "an array of registers") { item in
                guard let items = item.arrayValue else { return nil }
                let values = items.compactMap { $0.int64Value.flatMap(UInt16.init(exactly:)) }
                return values.count == items.count ? values : nil
            }
        }
        self.init(
            .sent(
                plan,
                Outcome(
                    result: result, succeeded: try json.bool("succeeded"), method: try json.string("method"),
                    detail: try json.optionalString("detail") ?? "", before: try words("before"),
                    after: try words("after"), beforeValue: try json.optionalString("before_value") ?? "",
                    afterValue: try json.optionalString("after_value") ?? "",
                    roundTripNanoseconds: try json.uint64("round_trip_ns"))))
    }
}
