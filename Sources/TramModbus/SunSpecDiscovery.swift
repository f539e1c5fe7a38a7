import TramConfig

/// Walks a SunSpec device's model chain: finds the "SunS" marker at one of the
/// standard base addresses, then follows each model's id and length to the end marker.
///
/// A profile fixes addresses for one chain; real inverters differ (SolarEdge and
/// Fronius put a 65-register common model where others put 66, SMA adds models
/// 11 and 12 first). Discovery shows a technician the chain a device really has.
/// Blocking: run it on an owned thread, never on the cooperative pool.
public enum SunSpecDiscovery {
    public struct Model: Sendable, Equatable {
        /// Address of the model's id register.
        public var address: Int
        public var id: Int
        public var length: Int
    }

    public struct Chain: Sendable, Equatable {
        public var base: Int
        public var models: [Model]
    }

    /// Base addresses to try, in the order the SunSpec specification lists them.
    public static let bases = [40000, 0, 50000]
    /// 'S' 'u' 'n' 'S'.
    public static let marker: [UInt16] = [0x5375, 0x6E53]
    /// A chain longer than this is not a SunSpec chain but a misread.
    static let maximumModels = 64

    public static func discover(on connection: ModbusConnection, unit: Int) throws(ModbusError) -> Chain? {
        var words = [UInt16](repeating: 0, count: 2)
        var lastError: ModbusError?
        for base in bases {
            do {
                try read(connection, unit: unit, address: base, into: &words)
            } catch {
                if case .exception = error { continue }
                lastError = error
                continue
            }
            guard words == marker else { continue }
            var models: [Model] = []
            var address = base + 2
            while models.count < maximumModels, address + 1 <= 0xFFFF {
                try read(connection, unit: unit, address: address, into: &words)
                let id = Int(words[0]), length = Int(words[1])
                if id == 0xFFFF { break }
                models.append(Model(address: address, id: id, length: length))
                address += 2 + length
            }
            return Chain(base: base, models: models)
        }
        if let lastError, lastError.breaksConnection || lastError == .timeout { throw lastError }
        return nil
    }

    private static func read(_ connection: ModbusConnection, unit: Int, address: Int, into words: inout [UInt16])
        throws(ModbusError)
    {
        var scratch = [UInt8](repeating: 0, count: 2)
        let request = ReadRequest(table: .holding, address: address, count: 2, points: [])
        do {
            try words.withUnsafeMutableBufferPointer { w in
                try scratch.withUnsafeMutableBufferPointer { s in
                    try connection.read(request, unit: unit, into: w.baseAddress!, scratch: s.baseAddress!)
                }
            }
        } catch let error as ModbusError {
            throw error
        } catch {
            throw .io(errno: 0, reason: "\(error)")
        }
    }

    /// Common SunSpec model names, for display.
    public static func name(of id: Int) -> String {
        switch id {
        case 1: "common"
        case 11: "ethernet link layer"
        case 12: "IPv4"
        case 101: "inverter, single phase"
        case 102: "inverter, split phase"
        case 103: "inverter, three phase"
        case 111, 112, 113: "inverter, float"
        case 120: "nameplate"
        case 121: "basic settings"
        case 122: "measurements and status"
        case 123: "immediate controls"
        case 160: "multiple MPPT"
        case 201, 202, 203, 204: "meter"
        case 802: "battery"
        default: "model \(id)"
        }
    }
}
