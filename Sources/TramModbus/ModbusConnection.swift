import CModbus
import TramConfig
import TramCore
import TramThreads
#if canImport(Glibc)
import Glibc
#endif

/// One libmodbus context for one link: TCP, RTU on a local serial port, or RTU
/// frames over a TCP socket to a serial device server.
///
/// Not thread-safe, by design: a connection belongs to one lane of an
/// ``IOExecutor`` (a serial port to its own thread), and every call on it is
/// blocking, so it must never run on Swift's cooperative pool.
public final class ModbusConnection {
    public let link: LinkConfig
    private var context: OpaquePointer?
    private var socket: Int32 = -1
    /// The response timeout last set: how long a failed request's late answer is waited for (`drainUntilQuiet`).
    private var responseTimeout: Duration = .seconds(1)
    /// Where unwanted bytes are read to and thrown away: allocated once, since an RTU link over TCP discards before
    /// every request, on the poll path.
    private let discardBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 512, alignment: 1)

    /// RTU frames carry no transaction id: an answer that comes late cannot be told from the next request's,
    /// since a read's answer has no address either. Such links are flushed before each request and drained after
    /// a failure; Modbus TCP's transaction id lets libmodbus refuse a late answer by itself.
    private var framesAreUnnumbered: Bool {
        switch link.endpoint {
        case .tcp: false
        case .rtu, .rtuOverTCP: true
        }
    }
    private var portLock: SerialPortLock?

    public init(link: LinkConfig) {
        self.link = link
    }

    deinit {
        close()
        discardBuffer.deallocate()
    }

    public var isOpen: Bool { context != nil }

    /// Opens the link. Serial ports are claimed first, so a second process gets a clear error.
    public func open() throws(ModbusError) {
        guard context == nil else { return }
        switch link.endpoint {
        case .tcp(let host, let port):
            guard let ctx = modbus_new_tcp_pi(host, String(port)) else {
                throw .connectFailed(reason: "cannot create a TCP context for \(host):\(port)")
            }
            context = ctx
            applyTimeouts()
            try connectContext(describing: "\(host):\(port)")
        case .rtu(let device, let serial):
            portLock = try SerialPortLock(device: device)
            guard
                let ctx = modbus_new_rtu(
                    device, Int32(serial.baud), Self.parity(serial.parity), Int32(serial.dataBits),
                    Int32(serial.stopBits))
            else {
                portLock = nil
                throw .connectFailed(
                    reason: "cannot create an RTU context for \(device) (\(String(cString: strerror(errno))))")
            }
            context = ctx
            applyTimeouts()
            try connectContext(describing: device)
            SerialPortLock.setExclusive(fileDescriptor: modbus_get_socket(ctx))
            try applySerialControls(serial)
        case .rtuOverTCP(let host, let port):
            // libmodbus has no RTU-over-TCP backend; an RTU context works over a socket we connect ourselves.
            let fd = try TCPSocket.connect(host: host, port: port, timeout: link.connectTimeout)
            guard let ctx = modbus_new_rtu("/dev/null", 9600, CChar(UInt8(ascii: "N")), 8, 1) else {
                Glibc.close(fd)
                throw .connectFailed(reason: "cannot create an RTU context")
            }
            context = ctx
            socket = fd
            applyTimeouts()
            modbus_set_socket(ctx, fd)
        }
    }

    public func close() {
        if let ctx = context {
            if socket >= 0 {
                Glibc.close(socket)
                modbus_set_socket(ctx, -1)
                socket = -1
            } else {
                if portLock != nil { SerialPortLock.clearExclusive(fileDescriptor: modbus_get_socket(ctx)) }
                modbus_close(ctx)
            }
            modbus_free(ctx)
        }
        context = nil
        portLock = nil
    }

    /// Sets the response timeout for the next requests (a device may ask for less than its link).
    public func setResponseTimeout(_ timeout: Duration) {
        guard let ctx = context else { return }
        responseTimeout = timeout
        let us = max(1000, timeout.microseconds)
        modbus_set_response_timeout(ctx, UInt32(us / 1_000_000), UInt32(us % 1_000_000))
    }

    /// Reads `count` registers into `buffer`. Throws the device's exception, a timeout, or a transport error.
    public func readRegisters(
        table: RegisterTable, unit: Int, address: Int, count: Int, into buffer: UnsafeMutablePointer<UInt16>
    ) throws(ModbusError) {
        let ctx = try ready(unit: unit)
        let result =
            table == .holding
            ? modbus_read_registers(ctx, Int32(address), Int32(count), buffer)
            : modbus_read_input_registers(ctx, Int32(address), Int32(count), buffer)
        if result < 0 { throw afterFailure() }
        if Int(result) != count { throw .io(errno: EIO, reason: "asked for \(count) registers, got \(result)") }
    }

    /// Reads `count` coils or discrete inputs, one byte (0 or 1) each, into `buffer`.
    public func readBits(
        table: RegisterTable, unit: Int, address: Int, count: Int, into buffer: UnsafeMutablePointer<UInt8>
    ) throws(ModbusError) {
        let ctx = try ready(unit: unit)
        let result =
            table == .coil
            ? modbus_read_bits(ctx, Int32(address), Int32(count), buffer)
            : modbus_read_input_bits(ctx, Int32(address), Int32(count), buffer)
        if result < 0 { throw afterFailure() }
        if Int(result) != count { throw .io(errno: EIO, reason: "asked for \(count) bits, got \(result)") }
    }

    /// Reads a request's range as registers widened to `UInt16` (bits become 0/1 registers).
    public func read(
        _ request: ReadRequest, unit: Int, into registers: UnsafeMutablePointer<UInt16>,
        scratch: UnsafeMutablePointer<UInt8>
    ) throws(ModbusError) {
        if request.table.holdsBits {
            try readBits(
                table: request.table, unit: unit, address: request.address, count: request.count, into: scratch)
            for i in 0..<request.count { registers[i] = UInt16(scratch[i]) }
        } else {
            try readRegisters(
                table: request.table, unit: unit, address: request.address, count: request.count, into: registers)
        }
    }

    /// Writes `words` from `address` of the holding registers: one register with function 6, or any number with 16
    /// (`function` 16 also for a single register, for devices that refuse 6).
    public func writeRegisters(unit: Int, address: Int, words: [UInt16], function: Int) throws(ModbusError) {
        let ctx = try ready(unit: unit)
        let result: Int32
        if function == 6, words.count == 1 {
            result = modbus_write_register(ctx, Int32(address), words[0])
        } else {
            result = words.withUnsafeBufferPointer {
                modbus_write_registers(ctx, Int32(address), Int32($0.count), $0.baseAddress)
            }
        }
        if result < 0 { throw afterFailure() }
    }

    /// Writes coils from `address`: one with function 5, or any number with 15.
    public func writeCoils(unit: Int, address: Int, bits: [Bool], function: Int) throws(ModbusError) {
        let ctx = try ready(unit: unit)
        let result: Int32
        if function == 5, bits.count == 1 {
            result = modbus_write_bit(ctx, Int32(address), bits[0] ? 1 : 0)
        } else {
            let bytes = bits.map { UInt8($0 ? 1 : 0) }
            result = bytes.withUnsafeBufferPointer {
                modbus_write_bits(ctx, Int32(address), Int32($0.count), $0.baseAddress)
            }
        }
        if result < 0 { throw afterFailure() }
    }

    /// Function 22: the device sets the register to (current AND `and`) OR (`or` AND NOT `and`), in one request.
    public func maskWriteRegister(unit: Int, address: Int, and: UInt16, or: UInt16) throws(ModbusError) {
        let ctx = try ready(unit: unit)
        if modbus_mask_write_register(ctx, Int32(address), and, or) < 0 { throw afterFailure() }
    }

    private func ready(unit: Int) throws(ModbusError) -> OpaquePointer {
        guard let ctx = context else { throw .linkDown(reason: "not connected") }
        modbus_set_slave(ctx, Int32(unit))
        // Whatever arrived since the last answer (a late one) is not this request's.
        if framesAreUnnumbered { discardPendingInput() }
        return ctx
    }

    /// Classifies the failure, then discards any late bytes so they cannot be taken for the next answer: on an RTU
    /// line it waits until the line has been quiet for a while (the request's answer may still be on its way: a
    /// poll answered 20 ms after its timeout shifted every later answer by one request, found with a pty peer).
    private func afterFailure() -> ModbusError {
        let error = ModbusError.fromErrno()
        if case .exception = error { return error }
        if error.breaksConnection { return error }
        if framesAreUnnumbered {
            drainUntilQuiet(min(responseTimeout, Self.quietAfterFailure), limit: responseTimeout * 2)
        } else {
            discardPendingInput()
        }
        return error
    }

    /// How long an RTU line must stay silent after a failed request before the next: long enough for the late
    /// answers a slow device gives, short enough that a dead device does not hold the bus for two timeouts a request.
    static let quietAfterFailure = Duration.milliseconds(100)

    /// Reads and throws away whatever arrives until nothing has for `quiet`, or `limit` has passed.
    public func drainUntilQuiet(_ quiet: Duration, limit: Duration) {
        guard let ctx = context else { return }
        let fd = socket >= 0 ? socket : modbus_get_socket(ctx)
        guard fd >= 0 else { return }
        let deadline = TramClock.system.monotonicNanoseconds() + UInt64(max(0, limit.microseconds)) * 1000
        while TramClock.system.monotonicNanoseconds() < deadline {
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, Int32(max(1, quiet.microseconds / 1000))) > 0 else { return }
            if Glibc.read(fd, discardBuffer.baseAddress, discardBuffer.count) <= 0 { return }
        }
    }

    private func discardPendingInput() {
        guard let ctx = context else { return }
        if socket >= 0 {
            while recv(socket, discardBuffer.baseAddress, discardBuffer.count, Int32(MSG_DONTWAIT)) > 0 {}
        } else {
            modbus_flush(ctx)
        }
    }

    private func connectContext(describing target: String) throws(ModbusError) {
        guard let ctx = context else { return }
        if modbus_connect(ctx) == -1 {
            let reason = String(cString: modbus_strerror(tram_errno()))
            modbus_free(ctx)
            context = nil
            portLock = nil
            throw .connectFailed(reason: "\(target): \(reason)")
        }
    }

    private func applyTimeouts() {
        guard let ctx = context else { return }
        setResponseTimeout(link.responseTimeout)
        let us = max(100, link.byteTimeout.microseconds)
        modbus_set_byte_timeout(ctx, UInt32(us / 1_000_000), UInt32(us % 1_000_000))
    }

    private func applySerialControls(_ serial: SerialSettings) throws(ModbusError) {
        guard let ctx = context else { return }
        if let mode = serial.mode {
            if modbus_rtu_set_serial_mode(ctx, mode == .rs485 ? MODBUS_RTU_RS485 : MODBUS_RTU_RS232) == -1 {
                let reason = String(cString: strerror(tram_errno()))
                close()
                throw .connectFailed(
                    reason: "cannot set \(mode.rawValue) mode: \(reason) (is this port an RS-485 capable UART?)")
            }
        }
        if serial.rts != .none {
            let rts = serial.rts == .up ? MODBUS_RTU_RTS_UP : MODBUS_RTU_RTS_DOWN
            if modbus_rtu_set_rts(ctx, rts) == -1 {
                let reason = String(cString: strerror(tram_errno()))
                close()
                throw .connectFailed(reason: "cannot set RTS mode: \(reason)")
            }
        }
        if let delay = serial.rtsDelay {
            modbus_rtu_set_rts_delay(ctx, Int32(delay.microseconds))
        }
    }

    static func parity(_ parity: SerialSettings.Parity) -> CChar {
        switch parity {
        case .none: CChar(UInt8(ascii: "N"))
        case .even: CChar(UInt8(ascii: "E"))
        case .odd: CChar(UInt8(ascii: "O"))
        }
    }
}
