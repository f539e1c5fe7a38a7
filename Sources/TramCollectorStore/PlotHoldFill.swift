/// Step-hold for plots of points that report by exception (``PlotSeries/stepHold``): what ``HoldRule`` says a sent
/// value stands for, laid on the plot's buckets.
enum PlotHoldFill {
    /// A grouped bucket and its newest reading (time and rollup value; no time: the bucket has no reading, only a
    /// hold counted into it).
    struct Grouped {
        var bucket: PlotBucket
        var lastTime: Int64?
        var lastValue: Double?
    }

    /// The buckets of a grouped or rollup plot with every bucket that has no reading of its own but lies within a
    /// sent value's hold given that value (count 0, min = max = mean). `before` is the newest reading before the
    /// range. A bucket is held when its start is before the hold's end.
    static func fill(
        _ rows: [Grouped], from: Int64, width: Int64, count: Int64, before: (time: Int64, value: Double?)?,
        limit: Int64, losses: [LossWindow]
    ) -> [PlotBucket] {
        func hold(_ time: Int64, _ value: Double?) -> (value: Double, until: Int64)? {
            guard let value, value.isFinite else { return nil }
            return (value, HoldRule.end(from: time, next: nil, limit: limit, losses: losses))
        }
        var held = before.flatMap { hold($0.time, $0.value) }
        var out: [PlotBucket] = []
        var r = 0
        for i in 0..<count {
            while r < rows.count && rows[r].bucket.index < i { r += 1 }
            if r < rows.count, rows[r].bucket.index == i, let time = rows[r].lastTime {
                out.append(rows[r].bucket)
                held = hold(time, rows[r].lastValue)
                continue
            }
            if let h = held, from + i * width < h.until {
                out.append(PlotBucket(index: i, count: 0, minimum: h.value, maximum: h.value, mean: h.value))
            }
        }
        return out
    }

    /// The holds of a raw plot's readings (sorted by time; `before` the newest reading before the range), clipped
    /// to [from, to) and given as bucket indices (width 1 ms). A reading without a value holds nothing but ends
    /// the hold before it.
    static func holds(
        _ readings: [(time: Int64, value: Double?)], before: (time: Int64, value: Double?)?, from: Int64, to: Int64,
        limit: Int64, losses: [LossWindow]
    ) -> [PlotHold] {
        let all = (before.map { [$0] } ?? []) + readings
        var out: [PlotHold] = []
        for (k, reading) in all.enumerated() {
            guard let value = reading.value, value.isFinite else { continue }
            let next = k + 1 < all.count ? all[k + 1].time : nil
            let end = min(HoldRule.end(from: reading.time, next: next, limit: limit, losses: losses), to)
            let start = max(reading.time, from)
            guard reading.time >= from || end > from else { continue }
            out.append(PlotHold(fromIndex: start - from, toIndex: max(end, start) - from, value: value))
        }
        return out
    }
}
