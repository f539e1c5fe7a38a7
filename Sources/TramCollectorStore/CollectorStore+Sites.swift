import CSQLite

/// Sites: set at enrollment (`gateway add --site`) and changed only by the operator (`gateway set-site`), never taken
/// from what a gateway sends, so one plant's token cannot place data in another site's report.
extension CollectorStore {
    /// Creates a gateway in `site` ('' for none); returns its token.
    public func addGateway(_ name: String, site: String, now: Int64) throws -> String {
        try Self.validateSite(site)
        let token = try addGateway(name, now: now)
        try setSite(name, site)
        return token
    }

    /// Moves a gateway to another site ('' for none). Its past readings move with it: a report is by current site.
    public func setSite(_ gateway: String, _ site: String) throws {
        try Self.validateSite(site)
        try statement("UPDATE gateways SET site = ? WHERE name = ?").run([.text(site), .text(gateway)])
        guard sqlite3_changes(db.handle) > 0 else { throw StoreError.noSuchGateway(gateway) }
    }

    static func validateSite(_ site: String) throws {
        if !site.isEmpty { try validate(site) }
    }
}
