import Synchronization

/// Records `EXPLAIN QUERY PLAN` for every console query a store runs while recording is on: the test that no console
/// page scans `readings` runs the real queries, with their real bindings, rather than a copy of their text.
package final class QueryPlanRecorder: Sendable {
    package struct Entry: Sendable {
        package var sql: String
        package var plan: [String]
    }

    private let entries = Mutex<[Entry]>([])
    private static let active = Mutex<[ObjectIdentifier: QueryPlanRecorder]>([:])

    package var recorded: [Entry] { entries.withLock { $0 } }

    /// Records the plans of `store`'s console queries until `stop` is called.
    package static func start(_ store: CollectorStore) -> QueryPlanRecorder {
        let recorder = QueryPlanRecorder()
        active.withLock { $0[ObjectIdentifier(store)] = recorder }
        return recorder
    }

    package static func stop(_ store: CollectorStore) {
        _ = active.withLock { $0.removeValue(forKey: ObjectIdentifier(store)) }
    }

    static func recorder(for store: CollectorStore) -> QueryPlanRecorder? {
        active.withLock { $0.isEmpty ? nil : $0[ObjectIdentifier(store)] }
    }

    func append(_ entry: Entry) { entries.withLock { $0.append(entry) } }
}

extension CollectorStore {
    /// A console query: its rows, and its plan when a ``QueryPlanRecorder`` is on for this store.
    func consoleRows<T>(_ sql: String, _ values: [SQLiteStatement.Value] = [], _ map: (SQLiteStatement) throws -> T)
        throws -> [T]
    {
        if let recorder = QueryPlanRecorder.recorder(for: self) {
            let plan = try db.prepare("EXPLAIN QUERY PLAN " + sql).rows(values) { $0.text(3) }
            recorder.append(.init(sql: sql, plan: plan))
        }
        return try statement(sql).rows(values, map)
    }

    func consoleFirst<T>(_ sql: String, _ values: [SQLiteStatement.Value] = [], _ map: (SQLiteStatement) throws -> T)
        throws -> T?
    {
        try consoleRows(sql, values, map).first
    }
}
