import Logging
import Synchronization
import TramConfig
import TramControlProtocol
import TramCore
import TramModbus
import TramThreads
import TramWrite

/// Serves `write` on the control socket: every guard on the agent's side, whoever the client, then the write on the
/// link's own thread between poll cycles, and one audit line for every attempt (docs/writes.md).
///
/// The guards, in order: writes on (`control: writes: true`); the client root or in `write_group`; by map, the point
/// found in the running config and marked writable, the value within its rule; by address, `raw_writes: true`, a
/// root client, `force`, and a link the agent owns. Broadcast (unit 0) is refused either way.
struct AgentWrites {
    let config: AgentConfig
    let journal: WriteJournal?
    let logger: Logger
    /// Runs a job on a link's lane; false when no engine has the link.
    let withLink: (String, Duration, Duration, @escaping @Sendable (LinkAccess) -> Void) -> Bool
    /// Finds the agent's link serving an endpoint.
    let linkServing: (LinkConfig.Endpoint) -> String?
    let clock: TramClock
    /// Counts an attempt by its result (`tram_writes_total`).
    let count: (String) -> Void

    /// How long a write may wait for its link (queued behind a poll cycle) and run.
    static let deadlineMilliseconds: Int64 = 15_000

    func answer(_ request: ControlWriteRequest, peer: ControlPeer?) -> ControlWriteResult {
        let user = peer?.userName ?? "unknown"
        let uid = Int(peer?.uid ?? UInt32.max)
        let what: String
        switch request.target {
        case .point(let device, let point): what = "\(device).\(point)"
        case .address(_, let unit, let table, let address, _, _): what = "unit \(unit) \(table) \(address)"
        }
        func refuse(_ refusal: WriteRefusal, link: String = "") -> ControlWriteResult {
            audit(
                WriteAudit(
                    refused: refusal, user: user, uid: uid, wallMilliseconds: clock.wallMilliseconds(), what: what,
                    link: link))
            return ControlWriteResult(.refused(reason: refusal.reason.rawValue, message: refusal.message))
        }
        // What the request names comes first: a device or link this agent does not have is not its to guard, and
        // the answer `not_owned` (not audited) lets tramctl write directly on a bus no agent shares.
        let link: String
        let pause: Duration
        let timeout: Duration
        let resolved: Result<WriteTarget, WriteRefusal>
        switch request.target {
        case .point(let deviceName, let pointName):
            guard let device = config.devices.first(where: { $0.name == deviceName }) else {
                return ControlWriteResult(
                    .refused(
                        reason: WriteRefusal.Reason.notOwned.rawValue,
                        message: "this agent has no device '\(deviceName)'"))
            }
            link = device.link
            pause = device.limits.pause
            timeout = device.timeout ?? config.links.first { $0.name == device.link }?.responseTimeout ?? .seconds(1)
            resolved = WriteResolver.point(pointName, of: deviceName, in: config, functionCode: request.functionCode)
                .map(\.0)
        case .address(let url, let unit, let table, let address, let type, let order):
            guard case .success(let endpoint) = LinkConfig.Endpoint.parse(url), let name = linkServing(endpoint) else {
                return ControlWriteResult(
                    .refused(reason: WriteRefusal.Reason.notOwned.rawValue, message: "this agent has no link \(url)"))
            }
            link = name
            pause = config.devices.filter { $0.link == name }.map(\.limits.pause).max() ?? .zero
            timeout = config.links.first { $0.name == name }?.responseTimeout ?? .seconds(1)
            resolved = WriteResolver.address(
                unit: unit, table: table, address: address, type: type, order: order,
                functionCode: request.functionCode)
        }
        guard config.control.writes else {
            return refuse(
                WriteRefusal(
                    .notAllowed,
                    "writes are off in this agent: set 'control: writes: true' in its config and reload (docs/writes.md)"
                ),
                link: link)
        }
        guard let peer, peer.isRoot || peer.isMember(of: config.control.writeGroup) else {
            return refuse(
                WriteRefusal(
                    .notAllowed,
                    "\(user) may not write: writing needs root or membership of group '\(config.control.writeGroup)'"),
                link: link)
        }
        let planned: Result<WritePlan, WriteRefusal>
        switch (request.target, resolved) {
        case (_, .failure(let refusal)): return refuse(refusal, link: link)
        case (.point, .success(let target)): planned = WritePlanner.plan(target, value: request.value)
        case (.address, .success(let target)):
            guard config.control.rawWrites else {
                return refuse(
                    WriteRefusal(
                        .notAllowed,
                        "writes by address are off in this agent: set 'control: raw_writes: true' to allow them "
                            + "(root only), or write a point its profile marks writable"),
                    link: link)
            }
            guard peer.isRoot else {
                return refuse(
                    WriteRefusal(.notAllowed, "a write by address through the agent needs root; \(user) is not"),
                    link: link)
            }
            planned = WritePlanner.planRaw(target, value: request.value, force: request.force)
        }
        let plan: WritePlan
        switch planned {
        case .failure(let refusal): return refuse(refusal, link: link)
        case .success(let value): plan = value
        }
        let shown = ControlWriteResult.Plan(plan, link: link)
        if request.dryRun { return ControlWriteResult(.planned(shown)) }

        let done = Wakeup()
        let answer = Mutex<WriteOutcome?>(nil)
        let queued = withLink(link, pause, timeout) { access in
            let outcome = WriteExecution.run(plan, on: access)
            answer.withLock { $0 = outcome }
            done.signal()
        }
        guard queued else {
            return refuse(WriteRefusal(.unknown, "link '\(link)' is not running in this agent"), link: link)
        }
        let deadline = clock.monotonicMilliseconds() + Self.deadlineMilliseconds
        while answer.withLock({ $0 == nil }), clock.monotonicMilliseconds() < deadline {
            done.wait(milliseconds: deadline - clock.monotonicMilliseconds())
        }
        // Past the deadline the job still runs when its turn comes, and audits nothing more: this answer says so.
        let outcome =
            answer.withLock { $0 }
            ?? WriteOutcome(
                result: .failed("the link did not run the write within \(Self.deadlineMilliseconds / 1000) s"),
                before: nil, after: nil, method: "FC\(plan.functionCode)", roundTripNanoseconds: 0)
        audit(
            WriteAudit(
                plan: plan, outcome: outcome, user: user, uid: uid, wallMilliseconds: clock.wallMilliseconds(),
                link: link))
        return ControlWriteResult(.sent(shown, ControlWriteResult.Outcome(outcome, of: plan)))
    }

    func audit(_ entry: WriteAudit) {
        count(entry.result)
        var metadata: Logger.Metadata = [:]
        for (key, value) in entry.fields { metadata[key] = "\(WriteAudit.quoted(value))" }
        // An audit line is never rate-limited (RateLimitedLogHandler keys on the message): each attempt is its own.
        metadata["audit"] = "write"
        if entry.result == "verified" || entry.result == "written" {
            logger.notice("write", metadata: metadata)
        } else {
            logger.warning("write", metadata: metadata)
        }
        if let journal, !journal.append(entry) {
            logger.error("the write journal could not be written", metadata: ["path": "\(journal.path)"])
        }
    }
}
