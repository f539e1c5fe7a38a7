import TramSchema

/// What a dictionary says beyond names and scaling: each point's kind and poll interval, and the gateway's batch
/// maximum age. The only place the store reads them, so switching on the dictionary's trailer (the wire change that
/// adds `PointDescriptor.kind`, `PointDescriptor.intervalMilliseconds` and
/// `SchemaDictionary.batchMaximumAgeMilliseconds`) is these three bodies. Until then: gauges, intervals and batch age
/// unknown.
enum DictionaryExtras {
    /// 0 gauge, 1 counter (`points.kind`).
    static func kind(of point: PointDescriptor) -> Int64 {
        0  // point.kind == .counter ? 1 : 0
    }

    static func intervalMilliseconds(of point: PointDescriptor) -> UInt64? {
        nil  // point.intervalMilliseconds
    }

    static func batchAgeMilliseconds(of dictionary: SchemaDictionary) -> UInt64? {
        nil  // dictionary.batchMaximumAgeMilliseconds
    }
}
