// libFuzzer entry point for Tram's wire decoder (FrameDecoder). Build and run: Benchmarks/fuzz/README.md.
import TramSchema

/// The golden example's dictionary, so that batch frames reach the value decoder.
let dictionary = SchemaDictionary(gateway: "gw-demo", points: [
    PointDescriptor(device: "incomer", name: "voltage_l1", unit: "V", type: .float32),
    PointDescriptor(device: "incomer", name: "energy", unit: "kWh", type: .uint32, scale: 0.1),
    PointDescriptor(device: "incomer", name: "breaker_closed", type: .bool),
    PointDescriptor(device: "pv", name: "power", unit: "W", type: .int16, exponentAlias: 4),
    PointDescriptor(device: "pv", name: "w_sf", type: .int16),
    PointDescriptor(device: "pv", name: "model", type: .string),
])
let schemaID = dictionary.schemaID

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    var bytes = Array(UnsafeBufferPointer(start: data, count: size))
    // Half the inputs get a valid length and checksum, so the payload parser sees them.
    if size >= 13, data[0] & 1 == 1 {
        let length = size - 13
        for i in 0..<4 { bytes[5 + i] = UInt8(truncatingIfNeeded: length >> (8 * i)) }
        let crc = CRC32C.checksum(Array(bytes[..<(size - 4)]))
        for i in 0..<4 { bytes[size - 4 + i] = UInt8(truncatingIfNeeded: crc >> UInt32(8 * i)) }
    }
    // Contract: a value or a WireError, never a trap; a decoded frame re-encodes to itself for dictionaries.
    if case .dictionary(let decoded, let id)? = try? FrameDecoder.decode(bytes, dictionary: { $0 == schemaID ? dictionary : nil }).frame {
        precondition(decoded.schemaID == id, "decoded dictionary with a wrong schema id")
    }
    return 0
}
