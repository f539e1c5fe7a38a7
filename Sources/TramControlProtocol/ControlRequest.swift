import TramJSON

/// A request on the control socket: one line of words separated by spaces (docs/agent.md, "Control socket").
///
///     status                     the one-screen summary: agent, devices, spool, uplinks  → ``ControlStatus``
///     status <from> <count>      the same with only devices from..<from+count (sorted by name), so that an
///                                answer stays small at any size: 8.2 MB for 100,000 points in one (tramctl pages)
///     cycles <cursor> [device]   poll cycles after <cursor>, for `tramctl tail`           → ``ControlCycles``
///     read <serial-device> <unit> <table> <address> <count>
///                                a read on a bus the agent owns (`tramctl read`, `scan`)  → ``ControlReadResult``
///     version                                                                             → ``ControlVersion``
///     write <json>               a guarded write through the agent (`tramctl write`)      → ``ControlWriteResult``
///
/// Any of them may instead be answered by a ``ControlError``.
public enum ControlRequest: Sendable, Equatable {
    case status
    /// `status` with devices `from..<from + count` of the agent's, sorted by name; the answer says how many there are.
    case statusPage(from: Int, count: Int)
    /// Cycles after `cursor` (0, or one older than the ring: from the oldest held), of one device or all.
    case cycles(after: Int, device: String?)
    case read(ControlReadRequest)
    case version
    case write(ControlWriteRequest)

    /// The request line, without its newline.
    public var line: String {
        switch self {
        case .status: "status"
        case .statusPage(let from, let count): "status \(from) \(count)"
        case .cycles(let cursor, let device): "cycles \(cursor)" + (device.map { " \($0)" } ?? "")
        case .read(let read): "read \(read.serialDevice) \(read.unit) \(read.table) \(read.address) \(read.count)"
        case .version: "version"
        case .write(let write): "write " + String(decoding: write.bytes, as: UTF8.self)
        }
    }

    /// Reads a request line. A `cycles` cursor that is not a number counts as 0; a `read` must have its five
    /// arguments, the last three numbers (their ranges are the agent's to check, as they depend on the table).
    public init(line: String) throws(ControlError) {
        let words = line.split(separator: " ").map(String.init)
        switch words.first {
        case "status"? where words.count == 3:
            guard let from = Int(words[1]), let count = Int(words[2]), from >= 0, count >= 1 else {
                throw ControlError("status takes no arguments, or two: status <from> <count> (devices, from 0)")
            }
            self = .statusPage(from: from, count: count)
        case "status"?: self = .status
        case "cycles"?:
            self = .cycles(after: words.count > 1 ? Int(words[1]) ?? 0 : 0, device: words.count > 2 ? words[2] : nil)
        case "version"?: self = .version
        case "write"?:
            let body = line.drop { $0 != " " }
            do {
                self = .write(try ControlWriteRequest(json: try JSON(parsing: Array(body.utf8))))
            } catch {
                throw ControlError("write takes: write <JSON request> (see docs/writes.md); \(error)")
            }
        case "read"?:
            guard words.count == 6, let unit = Int(words[2]), let address = Int(words[4]), let count = Int(words[5])
            else {
                throw .readUsage
            }
            self = .read(
                ControlReadRequest(serialDevice: words[1], unit: unit, table: words[3], address: address, count: count))
        default: throw .unknownRequest(line)
        }
    }
}

/// What `read` asks for: `count` registers or bits from `address` in `table` (`coil`, `discrete_input`, `input`,
/// `holding`) of unit `unit`, on the bus at `serialDevice`.
public struct ControlReadRequest: Sendable, Equatable {
    public var serialDevice: String
    public var unit: Int
    public var table: String
    public var address: Int
    public var count: Int

    public init(serialDevice: String, unit: Int, table: String, address: Int, count: Int) {
        self.serialDevice = serialDevice
        self.unit = unit
        self.table = table
        self.address = address
        self.count = count
    }
}
