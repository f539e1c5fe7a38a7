import TramConfig

/// One write attempt, allowed or refused, as one line: who, what, the raw values before and after, and the result.
/// The agent logs it and keeps it in its journal; `tramctl` does the same when it writes without the agent.
public struct WriteAudit: Sendable, Equatable {
    /// The Unix user (from the control socket's peer credentials, or `tramctl`'s own).
    public var user: String
    public var uid: Int
    public var wallMilliseconds: Int64
    /// `device.point`, or `unit U table ADDRESS` for a write by address.
    public var what: String
    public var link: String
    public var plan: String
    /// `verified`, `mismatch`, `exception_2`, …, or `refused_<reason>`.
    public var result: String
    public var detail: String
    public var before: [UInt16]?
    public var after: [UInt16]?

    public init(
        user: String, uid: Int, wallMilliseconds: Int64, what: String, link: String, plan: String, result: String,
        detail: String = "", before: [UInt16]? = nil, after: [UInt16]? = nil
    ) {
        self.user = user
        self.uid = uid
        self.wallMilliseconds = wallMilliseconds
        self.what = what
        self.link = link
        self.plan = plan
        self.result = result
        self.detail = detail
        self.before = before
        self.after = after
    }

    /// A refused attempt.
    public init(
        refused refusal: WriteRefusal, user: String, uid: Int, wallMilliseconds: Int64, what: String, link: String
    ) {
        self.init(
            user: user, uid: uid, wallMilliseconds: wallMilliseconds, what: what, link: link, plan: "",
            result: "refused_\(refusal.reason.rawValue)", detail: refusal.message)
    }

    /// A sent write.
    public init(
        plan: WritePlan, outcome: WriteOutcome, user: String, uid: Int, wallMilliseconds: Int64, link: String
    ) {
        let reason = outcome.result.reason
        let detail = outcome.method + (reason.isEmpty ? "" : "; \(reason)")
        self.init(
            user: user, uid: uid, wallMilliseconds: wallMilliseconds,
            what: plan.target.pointName
                ?? "unit \(plan.target.unit) \(plan.target.table.rawValue) \(plan.target.address)",
            link: link, plan: plan.summary, result: outcome.result.word, detail: detail, before: outcome.before,
            after: outcome.after)
    }

    /// `key=value` pairs for a log line and the journal, in a fixed order; values quoted where they hold spaces.
    public var fields: [(String, String)] {
        var fields: [(String, String)] = [
            ("time_ms", "\(wallMilliseconds)"), ("user", user), ("uid", "\(uid)"), ("what", what), ("link", link),
            ("result", result),
        ]
        if !plan.isEmpty { fields.append(("plan", plan)) }
        if let before { fields.append(("before", before.map(WritePlan.hex).joined(separator: " "))) }
        if let after { fields.append(("after", after.map(WritePlan.hex).joined(separator: " "))) }
        if !detail.isEmpty { fields.append(("detail", detail)) }
        return fields
    }

    /// The journal's line: `write time_ms=… user=alice … result=verified`.
    public var line: String {
        "write " + fields.map { key, value in "\(key)=\(Self.quoted(value))" }.joined(separator: " ")
    }

    /// A value as the journal writes it: bare, or in double quotes with `\"` and `\\` escaped when it holds a space,
    /// a quote or `=` (so that a line splits back into its fields).
    public static func quoted(_ value: String) -> String {
        guard value.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" }) || value.isEmpty else { return value }
        var escaped = ""
        for character in value {
            switch character {
            case "\"": escaped += "\\\""
            case "\\": escaped += "\\\\"
            case "\n": escaped += "\\n"
            default: escaped.append(character)
            }
        }
        return "\"\(escaped)\""
    }
}
