import TramSchema

/// What a dictionary says beyond names and scaling: each point's kind and poll interval, and the gateway's batch
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

    static func batchAgeMilliseconds(of dictionary: SchemaDictionary) -> UInt64? {
        dictionary.batchMaximumAgeMilliseconds
    }
}
