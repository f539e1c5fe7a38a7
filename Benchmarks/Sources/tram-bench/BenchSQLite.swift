import CSQLite
import TramCollectorStore

/// The benchmarks' own SQL beside the store's (baselines, synthetic rows, the same answers computed from raw
/// readings): prepared statements on a connection of their own.
extension SQLiteDatabase {
    enum BenchValue {
        case integer(Int64)
        case text(String)
    }

    /// Runs `sql` once with `values` bound in order, calling `row` for each result row; returns the rows.
    @discardableResult
    func benchRows(_ sql: String, _ values: [BenchValue] = [], row: (OpaquePointer) -> Void = { _ in }) throws -> Int {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK, let statement else {
            throw error(1)
        }
        defer { sqlite3_finalize(statement) }
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            switch value {
            case .integer(let v): sqlite3_bind_int64(statement, index, v)
            case .text(let v): tram_sqlite_bind_text(statement, index, v, -1)
            }
        }
        var rows = 0
        while true {
            let code = sqlite3_step(statement)
            if code == SQLITE_DONE { return rows }
            guard code == SQLITE_ROW else { throw error(code) }
            rows += 1
            row(statement)
        }
    }

    /// The first column of the first row, as an integer (-1 when there is no row).
    func benchScalar(_ sql: String, _ values: [BenchValue] = []) throws -> Int64 {
        var value: Int64 = -1
        try benchRows(sql, values) { statement in if value == -1 { value = sqlite3_column_int64(statement, 0) } }
        return value
    }
}
