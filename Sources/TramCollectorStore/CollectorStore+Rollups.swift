/// Ingest's writes of what a request's readings summarise: one upsert per rollup bucket and per point, in the
/// request's transaction (``IngestAggregate`` builds them; ``RollupRules`` says what they mean).
extension CollectorStore {
    func loadLatest(_ point: Int64) throws -> PointLatest? {
        try statement(
            """
            SELECT time_ms, value, raw_int, raw_text, type, quality, exception, clock, quality_since_ms, increase_base
            FROM point_latest WHERE point = ?
            """
        ).first([.integer(point)]) { s in
            PointLatest(
                time: s.int64(0), value: s.optionalDouble(1), rawInt: s.optionalInt64(2), rawText: s.optionalText(3),
                type: UInt8(truncatingIfNeeded: s.int64(4)), quality: UInt8(truncatingIfNeeded: s.int64(5)),
                exception: s.optionalInt64(6).map { UInt8(truncatingIfNeeded: $0) },
                clock: UInt8(truncatingIfNeeded: s.int64(7)), qualitySince: s.int64(8),
                increaseBase: s.optionalDouble(9))
        }
    }

    func write(_ aggregate: inout IngestAggregate, gateway: Int64, now: Int64) throws {
        try writeBuckets(aggregate.buckets())
        try writeSignals(aggregate)
        let latest = try statement(
            """
            INSERT INTO point_latest(point, time_ms, value, raw_int, raw_text, type, quality, exception, clock,
                                     quality_since_ms, increase_base) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
            ON CONFLICT (point) DO UPDATE SET time_ms = ?2, value = ?3, raw_int = ?4, raw_text = ?5, type = ?6,
              quality = ?7, exception = ?8, clock = ?9, quality_since_ms = ?10, increase_base = ?11
            """)
        for slot in aggregate.slots where slot.moved {
            guard let row = slot.latest else { continue }
            latest.bindInt(1, slot.point)
            latest.bindInt(2, row.time)
            latest.bindDouble(3, row.value)
            latest.bindInt(4, row.rawInt)
            latest.bindText(5, row.rawText)
            latest.bindInt(6, Int64(row.type))
            latest.bindInt(7, Int64(row.quality))
            latest.bindInt(8, row.exception.map { Int64($0) })
            latest.bindInt(9, Int64(row.clock))
            latest.bindInt(10, row.qualitySince)
            latest.bindDouble(11, row.increaseBase)
            try latest.execute()
        }
        if let clock = aggregate.clock {
            // A clock that is not synchronised may stamp any time: "since" is never later than the request.
            try statement(
                """
                UPDATE gateways SET clock = ?2, clock_since_ms = CASE WHEN clock IS ?2 THEN clock_since_ms ELSE ?3 END
                WHERE id = ?1
                """
            ).run([.integer(gateway), .integer(clock.synchronised ? 1 : 0), .integer(min(clock.since, now))])
        }
    }

    /// The modem's signal bins and state time: one upsert per key, in key order.
    private func writeSignals(_ aggregate: IngestAggregate) throws {
        if !aggregate.signals.isEmpty {
            let upsert = try statement(
                """
                INSERT INTO signal_bins(point, width_ms, bucket_ms, operator, bin, count) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                ON CONFLICT (point, width_ms, bucket_ms, operator, bin) DO UPDATE SET count = count + excluded.count
                """)
            for key in aggregate.signals.keys.sorted() {
                upsert.bindInt(1, key.point)
                upsert.bindInt(2, key.width)
                upsert.bindInt(3, key.bucket)
                upsert.bindInt(4, key.operatorCode)
                upsert.bindInt(5, key.bin)
                upsert.bindInt(6, aggregate.signals[key]!)
                try upsert.execute()
            }
        }
        if !aggregate.states.isEmpty {
            let upsert = try statement(
                """
                INSERT INTO state_time(point, width_ms, bucket_ms, value, ms) VALUES (?1, ?2, ?3, ?4, ?5)
                ON CONFLICT (point, width_ms, bucket_ms, value) DO UPDATE SET ms = ms + excluded.ms
                """)
            for key in aggregate.states.keys.sorted() {
                upsert.bindInt(1, key.point)
                upsert.bindInt(2, key.width)
                upsert.bindInt(3, key.bucket)
                upsert.bindInt(4, key.value)
                upsert.bindInt(5, aggregate.states[key]!)
                try upsert.execute()
            }
        }
    }

    /// One upsert per bucket, in key order (the rows of one point and width are neighbours in the table's B-tree).
    /// A bucket only held into has `count` 0: it adds its good time and leaves the row's readings as they are.
    private func writeBuckets(_ buckets: [RollupKey: RollupBucket]) throws {
        let upsert = try statement(
            """
            INSERT INTO rollups(point, width_ms, bucket_ms, count, good, numeric, sum, min, max, first_ms, last_ms,
                                last_value, increase, good_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
            ON CONFLICT (point, width_ms, bucket_ms) DO UPDATE SET
              count = rollups.count + excluded.count, good = rollups.good + excluded.good,
              numeric = rollups.numeric + excluded.numeric,
              sum = coalesce(rollups.sum + excluded.sum, rollups.sum),
              min = coalesce(min(rollups.min, excluded.min), rollups.min, excluded.min),
              max = coalesce(max(rollups.max, excluded.max), rollups.max, excluded.max),
              first_ms = CASE WHEN excluded.count = 0 THEN rollups.first_ms WHEN rollups.count = 0 THEN excluded.first_ms
                ELSE min(rollups.first_ms, excluded.first_ms) END,
              last_ms = CASE WHEN excluded.count = 0 THEN rollups.last_ms WHEN rollups.count = 0 THEN excluded.last_ms
                ELSE max(rollups.last_ms, excluded.last_ms) END,
              last_value = CASE WHEN excluded.count = 0 THEN rollups.last_value
                WHEN rollups.count = 0 OR excluded.last_ms >= rollups.last_ms THEN excluded.last_value
                ELSE rollups.last_value END,
              increase = coalesce(rollups.increase + excluded.increase, rollups.increase),
              good_ms = rollups.good_ms + excluded.good_ms
            """)
        for key in buckets.keys.sorted() {
            let bucket = buckets[key]!
            let held = bucket.count == 0
            upsert.bindInt(1, key.point)
            upsert.bindInt(2, key.width)
            upsert.bindInt(3, key.bucket)
            upsert.bindInt(4, bucket.count)
            upsert.bindInt(5, bucket.good)
            upsert.bindInt(6, bucket.numeric)
            // Finite values only reach the sums; overflowing both ways (NaN) is the one way to lose one.
            upsert.bindDouble(7, bucket.sum.isNaN ? 0 : bucket.sum)
            upsert.bindDouble(8, bucket.min)
            upsert.bindDouble(9, bucket.max)
            upsert.bindInt(10, held ? key.bucket : bucket.first)
            upsert.bindInt(11, held ? key.bucket : bucket.last)
            upsert.bindDouble(12, bucket.lastValue)
            upsert.bindDouble(13, bucket.increase.isNaN ? 0 : bucket.increase)
            upsert.bindInt(14, bucket.goodMilliseconds)
            try upsert.execute()
        }
    }
}
