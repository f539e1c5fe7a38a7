extension Duration {
    /// Whole milliseconds (towards zero), for display, wire fields and C APIs.
    public var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }

    /// Whole microseconds.
    public var microseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000 + attoseconds / 1_000_000_000_000
    }

    /// Whole nanoseconds, saturating at `Int64.min`/`.max` instead of trapping (a config can name 300 years).
    public var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        let (sum, sumOverflow) = product.addingReportingOverflow(attoseconds / 1_000_000_000)
        return sumOverflow ? (seconds < 0 ? .min : .max) : sum
    }

    /// Seconds as a double (`1.5` for 1500 ms), for messages and libcurl's floating-point options.
    public var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    /// Short human text: `500ms`, `1s`, `1.5s`.
    public var shortDescription: String {
        let us = microseconds
        if us % 1_000_000 == 0 { return "\(us / 1_000_000)s" }
        if us % 1000 == 0 { return "\(us / 1000)ms" }
        return "\(us)us"
    }
}
