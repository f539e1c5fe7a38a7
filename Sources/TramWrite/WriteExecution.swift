import TramConfig
import TramCore
import TramModbus

/// What a sent write did: the registers before and after, and whether the device holds what was written.
public struct WriteOutcome: Sendable, Equatable {
    public enum Result: Sendable, Equatable {
        /// Written, and the read-back holds the value.
        case verified
        /// Written; the point says not to read it back (`readback: none`: a command register that clears itself).
        case written
        /// Written without an error, but the read-back holds something else: the device ignored or changed it.
        case mismatch
        /// Not written: the device answered this Modbus exception to the write (02 address, 03 value, 01 function).
        case exception(code: Int)
        /// The current value could not be read first, so nothing was written.
        case readFailed(String)
        /// The write itself failed (a timeout, the link): the device may or may not have applied it.
        case failed(String)
        /// The read-back failed after a write the device accepted.
        case readbackFailed(String)

        public var succeeded: Bool { self == .verified || self == .written }

        /// What went wrong, for a failure that carries its reason; empty otherwise.
        public var reason: String {
            switch self {
            case .readFailed(let why), .failed(let why), .readbackFailed(let why): why
            default: ""
            }
        }

        /// One word for logs and the journal: `verified`, `mismatch`, `exception_2`, …
        public var word: String {
            switch self {
            case .verified: "verified"
            case .written: "written"
            case .mismatch: "mismatch"
            case .exception(let code): "exception_\(code)"
            case .readFailed: "read_failed"
            case .failed: "failed"
            case .readbackFailed: "readback_failed"
            }
        }
    }

    public var result: Result
    /// The registers (or coils, as 0/1) read before the write and after it; nil where not read.
    public var before: [UInt16]?
    public var after: [UInt16]?
    /// How a register bit was written: `mask write (FC22)` or `read-modify-write (FC3 + FC6)`.
    public var method: String
    public var roundTripNanoseconds: UInt64

    public init(
        result: Result, before: [UInt16]?, after: [UInt16]?, method: String, roundTripNanoseconds: UInt64
    ) {
        self.result = result
        self.before = before
        self.after = after
        self.method = method
        self.roundTripNanoseconds = roundTripNanoseconds
    }
}

/// Sends a ``WritePlan`` over a ``LinkAccess``: reads the registers first (so the audit has the old value, and a
/// device that does not answer is not written blind), writes, then reads them back unless the point says not to.
/// Blocking: call it on the link's own thread (the agent's lane, or `tramctl`'s own link).
public enum WriteExecution {
    public static func run(_ plan: WritePlan, on link: LinkAccess) -> WriteOutcome {
        let started = TramClock.system.monotonicNanoseconds()
        func outcome(_ result: WriteOutcome.Result, _ before: [UInt16]?, _ after: [UInt16]?, _ method: String)
            -> WriteOutcome
        {
            WriteOutcome(
                result: result, before: before, after: after, method: method,
                roundTripNanoseconds: TramClock.system.monotonicNanoseconds() - started)
        }
        let target = plan.target
        var method = "FC\(plan.functionCode)"
        let before: [UInt16]
        switch read(target, on: link) {
        case .success(let words): before = words
        case .failure(let error): return outcome(.readFailed("\(error)"), nil, nil, method)
        }
        let wrote: Result<Void, ModbusError>
        var expected: [UInt16]
        switch plan.payload {
        case .registers(let words):
            expected = words
            wrote = link.request { connection throws(ModbusError) in
                try connection.writeRegisters(
                    unit: target.unit, address: target.address, words: words, function: plan.functionCode)
            }
        case .coils(let bits):
            expected = bits.map { $0 ? 1 : 0 }
            wrote = link.request { connection throws(ModbusError) in
                try connection.writeCoils(
                    unit: target.unit, address: target.address, bits: bits, function: plan.functionCode)
            }
        case .bit(let index, let value):
            let mask = UInt16(1) << UInt16(index)
            expected = [value ? before[0] | mask : before[0] & ~mask]
            var result: Result<Void, ModbusError> = .failure(.exception(code: 1))
            if plan.functionCode == 22 {
                method = "mask write (FC22)"
                result = link.request { connection throws(ModbusError) in
                    try connection.maskWriteRegister(
                        unit: target.unit, address: target.address, and: ~mask, or: value ? mask : 0)
                }
            }
            // A device without function 22 answers exception 01: then the register is read and written whole, on
            // this same thread, so no poll comes between the read above and this write.
            if case .failure(.exception(code: 1)) = result {
                let function = plan.functionCode == 22 ? 6 : plan.functionCode
                method = "read-modify-write (FC3 + FC\(function))" + (plan.functionCode == 22 ? ", no FC22" : "")
                let word = expected[0]
                result = link.request { connection throws(ModbusError) in
                    try connection.writeRegisters(
                        unit: target.unit, address: target.address, words: [word], function: function)
                }
            }
            wrote = result
        }
        switch wrote {
        case .failure(.exception(let code)): return outcome(.exception(code: code), before, nil, method)
        case .failure(let error): return outcome(.failed("\(error)"), before, nil, method)
        case .success: break
        }
        guard plan.readback == .expect else { return outcome(.written, before, nil, method) }
        switch read(target, on: link) {
        case .success(let after): return outcome(after == expected ? .verified : .mismatch, before, after, method)
        case .failure(let error): return outcome(.readbackFailed("\(error)"), before, nil, method)
        }
    }

    /// The target's registers, or its coils as 0 and 1.
    static func read(_ target: WriteTarget, on link: LinkAccess) -> Result<[UInt16], ModbusError> {
        let count = target.count
        return link.request { connection throws(ModbusError) in
            var registers = [UInt16](repeating: 0, count: count)
            var bits = [UInt8](repeating: 0, count: count)
            let request = ReadRequest(table: target.table, address: target.address, count: count, points: [])
            try registers.withUnsafeMutableBufferPointer {
                (r: inout UnsafeMutableBufferPointer<UInt16>) throws(ModbusError) in
                try bits.withUnsafeMutableBufferPointer {
                    (b: inout UnsafeMutableBufferPointer<UInt8>) throws(ModbusError) in
                    try connection.read(request, unit: target.unit, into: r.baseAddress!, scratch: b.baseAddress!)
                }
            }
            return registers
        }
    }
}
