import TramCollectorStore

/// A point's plot as server-rendered SVG (docs/console.md, "Plots"): no script, no library, the one escaping rule.
///
/// The viewBox is `0 0 N 1000` with N the plot's width in buckets, stretched to the box by CSS
/// (`preserveAspectRatio="none"`, strokes that do not scale). Bucket i is one subpath `M{i} {yHigh}V{yLow}` in
/// `path.range`; the mean is `path.mean`, a line broken by a new `M` at every gap; a missing bucket draws nothing.
/// y = round((high − v) / (high − low) × 1000), rounding half away from zero. A point that reports by exception is
/// drawn step-hold (`data-hold="step"`): raw readings by ``stepPath(low:high:)``, grouped buckets with their held
/// buckets filled by the store (``PlotSeries/stepHold``), joined bucket to bucket.
struct PlotSVG {
    let name: String
    let series: PlotSeries
    /// The point's poll interval, to tell a gap between raw readings (more than twice it) from a reading's spacing.
    let intervalMilliseconds: Int64?

    /// The value range the plot maps to 1000…0: the buckets' min and max, widened by 1 each way when flat.
    var valueRange: (low: Double, high: Double) {
        var low = Double.infinity
        var high = -Double.infinity
        for bucket in series.buckets {
            if let v = bucket.minimum, v.isFinite { low = min(low, v) }
            if let v = bucket.maximum, v.isFinite { high = max(high, v) }
        }
        for hold in series.holds where hold.value.isFinite {
            low = min(low, hold.value)
            high = max(high, hold.value)
        }
        guard low.isFinite, high.isFinite else { return (0, 1) }
        if low == high { return (low - 1, high + 1) }
        return (low, high)
    }

    static func y(_ value: Double, low: Double, high: Double) -> Int64 {
        let y = ((high - value) / (high - low) * 1000).rounded(.toNearestOrAwayFromZero)
        // A range wider than a double holds (±1e308 readings) makes inf/inf: drawn at the edge, never a trap.
        return y.isFinite ? Int64(min(max(y, -1e6), 1e6)) : 0
    }

    /// Whether bucket `current` follows `previous` without a gap.
    func continues(_ previous: PlotBucket, _ current: PlotBucket, rawGap: Int64) -> Bool {
        series.source == .raw && !series.stepHold
            ? current.index - previous.index <= rawGap : current.index == previous.index + 1
    }

    /// Raw readings drawn step-hold: the mean path is each sent value's hold, flat (`H`) to where it ends; a hold
    /// that ends where the next begins joins it with a vertical (`V`), any other starts a new subpath (a gap: the
    /// hold limit ran out, or a loss cut it).
    var isRawStepHold: Bool { series.stepHold && series.source == .raw && series.widthMilliseconds == 1 }

    func stepPath(low: Double, high: Double) -> String {
        var mean = ""
        var end: Int64?
        for hold in series.holds where hold.value.isFinite {
            let y = Self.y(hold.value, low: low, high: high)
            mean += end == hold.fromIndex ? "V\(y)" : "M\(hold.fromIndex) \(y)"
            mean += "H\(hold.toIndex)"
            end = hold.toIndex
        }
        return mean
    }

    /// For raw readings: the longest spacing that is not a gap (twice the interval, or twice the median spacing).
    var rawGap: Int64 {
        if let interval = intervalMilliseconds, interval > 0 { return 2 * interval }
        let steps = zip(series.buckets.dropFirst(), series.buckets).map { $0.index - $1.index }.sorted()
        guard !steps.isEmpty else { return .max }
        return max(1, 2 * steps[steps.count / 2])
    }

    var paths: (range: String, mean: String) {
        let (low, high) = valueRange
        var range = ""
        var mean = ""
        var previous: PlotBucket?
        let gap = rawGap
        for bucket in series.buckets {
            if let lo = bucket.minimum, let hi = bucket.maximum, lo.isFinite, hi.isFinite {
                range += "M\(bucket.index) \(Self.y(hi, low: low, high: high))V\(Self.y(lo, low: low, high: high))"
            }
            guard let m = bucket.mean, m.isFinite else {
                previous = nil
                continue
            }
            let joined = previous.map { continues($0, bucket, rawGap: gap) } ?? false
            mean += "\(joined ? "L" : "M")\(bucket.index) \(Self.y(m, low: low, high: high))"
            previous = bucket
        }
        return (range, isRawStepHold ? stepPath(low: low, high: high) : mean)
    }

    func render(label: String) -> String {
        let (low, high) = valueRange
        let (range, mean) = paths
        let n = series.bucketCount
        return """
            <svg class="plot" data-point="\(HTML.escape(name))" data-source="\(series.source.rawValue)" \
            data-buckets="\(n)" data-from="\(series.from)" data-to="\(series.to)" \
            data-width-ms="\(series.widthMilliseconds)" data-y-low="\(low)" data-y-high="\(high)" \
            viewBox="0 0 \(n) 1000" preserveAspectRatio="none" data-hold="\(series.stepHold ? "step" : "line")" \
            role="img" aria-label="\(HTML.escape(label))">\
            <title>\(HTML.escape(label))</title>\
            <path class="range" d="\(range)"/><path class="mean" d="\(mean)"/></svg>
            """
    }
}

/// A bar per local day with bytes (the fleet's and a gateway's data use): `rect.bar` at x = the day's position,
/// with `data-day` and `data-bytes`, and a `<title>` a pointer shows.
struct DailyBarsSVG {
    let days: [LocalDayTotal]
    let formatting: Formatting

    func render(label: String) -> String {
        let highest = max(days.map(\.bytes).max() ?? 0, 1)
        var bars = ""
        // A day without bytes draws nothing (and costs nothing: 200 gateways × 31 days are on the fleet page).
        for (i, day) in days.enumerated() where day.bytes > 0 {
            let height = day.bytes == 0 ? 0 : max(1, Int64((Double(day.bytes) / Double(highest) * 100).rounded()))
            let title = "\(formatting.day(day.day)): \(Formatting.bytes(day.bytes))"
            bars +=
                "<rect class=\"bar\" data-day=\"\(formatting.day(day.day))\" data-bytes=\"\(day.bytes)\" x=\"\(i)\" "
                + "y=\"\(100 - height)\" width=\"0.8\" height=\"\(height)\"><title>\(HTML.escape(title))</title></rect>"
        }
        return """
            <svg class="bars" data-days="\(days.count)" viewBox="0 0 \(days.count) 100" preserveAspectRatio="none" \
            role="img" aria-label="\(HTML.escape(label))"><title>\(HTML.escape(label))</title>\(bars)</svg>
            """
    }
}
