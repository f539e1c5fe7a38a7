import TramSchema

/// What a dictionary says beyond names and scaling: each point's kind, poll interval, deadband and heartbeat, and the gateway's batch
/// maximum age, from the dictionary's trailer (docs/wire-format.md); a dictionary without one says gauges, intervals
/// and batch age unknown. The one place the store reads them.
enum DictionaryExtras {
    /// 0 gauge, 1 counter (`points.kind`).
    static func kind(of point: PointDescriptor) -> Int64 {
        Int64(point.kind.rawValue)
    }

    static func intervalMilliseconds(of point: PointDescriptor) -> UInt64? {
        point.intervalMilliseconds
    }

    /// Report by exception (version 2): the deadband in engineering units, nil when every poll is sent.
    static func deadband(of point: PointDescriptor) -> Double? {
        point.deadband
    }

    /// Report by exception (version 2): the longest time between two sends, nil none.
    static func heartbeatMilliseconds(of point: PointDescriptor) -> UInt64? {
        point.heartbeatMilliseconds
    }

    static func batchAgeMilliseconds(of dictionary: SchemaDictionary) -> UInt64? {
        dictionary.batchMaximumAgeMilliseconds
    }
}
