import TramControlProtocol

extension ControlWriteResult.Plan {
    /// A plan as the control socket carries it (and `tramctl` shows it, through the agent or not).
    public init(_ plan: WritePlan, link: String) {
        self.init(
            link: link, summary: plan.summary, functionCode: plan.functionCode, raw: plan.rawText,
            engineering: plan.engineering, readback: plan.readback.rawValue, note: plan.note)
    }
}

extension ControlWriteResult.Outcome {
    /// An outcome as the control socket carries it, its registers also as the point's engineering values.
    public init(_ outcome: WriteOutcome, of plan: WritePlan) {
        self.init(
            result: outcome.result.word, succeeded: outcome.result.succeeded, method: outcome.method,
            detail: outcome.result.reason, before: outcome.before, after: outcome.after,
            beforeValue: outcome.before.map(plan.target.engineeringText) ?? "",
            afterValue: outcome.after.map(plan.target.engineeringText) ?? "",
            roundTripNanoseconds: outcome.roundTripNanoseconds)
    }
}
