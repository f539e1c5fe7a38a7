import TramCore
import CModbus
import TramConfig
import TramModbus
#if canImport(Glibc)
import Glibc
#endif

/// A Modbus server for simulated devices, built on libmodbus's server functions.
///
/// Over TCP it serves several unit ids on one port (one device per unit id)
/// and many clients at once; over RTU it serves one unit on a serial port or pty.
/// It runs on the calling thread until `stop()` or a signal.
public final class ModbusSimulator {
    public enum Transport {
        case tcp(host: String, port: Int)
        case rtu(device: String, serial: SerialSettings)
    }

    public let transport: Transport
    private let devices: [Int: SimulatedDevice]
    private let refreshInterval: Duration
    private nonisolated(unsafe) static var stopRequested: sig_atomic_t = 0

    public init(transport: Transport, devices: [SimulatedDevice], refreshInterval: Duration = .milliseconds(500)) {
        self.transport = transport
        self.devices = Dictionary(devices.map { ($0.unit, $0) }, uniquingKeysWith: { a, _ in a })
        self.refreshInterval = refreshInterval
    }

    /// Asks every running simulator in this process to stop (as SIGINT/SIGTERM do).
    public static func stopAll() { stopRequested = 1 }

    /// Serves until SIGINT/SIGTERM or ``stopAll()``. `ready` is called with the bound address once clients can connect.
    public func run(ready: (String) -> Void) throws(ModbusError) {
        signal(SIGINT) { _ in ModbusSimulator.stopRequested = 1 }
        signal(SIGTERM) { _ in ModbusSimulator.stopRequested = 1 }
        signal(SIGPIPE, SIG_IGN)
        switch transport {
        case .tcp(let host, let port): try serveTCP(host: host, port: port, ready: ready)
        case .rtu(let device, let serial): try serveRTU(device: device, serial: serial, ready: ready)
        }
    }

    private func refresh(_ started: UInt64) {
        let seconds = Double(monotonic() - started) / 1e9
        for device in devices.values { device.refresh(at: seconds) }
    }

    private func serveTCP(host: String, port: Int, ready: (String) -> Void) throws(ModbusError) {
        guard let ctx = modbus_new_tcp(host, Int32(port)) else {
            throw .connectFailed(reason: "cannot create a TCP server context")
        }
        defer { modbus_free(ctx) }
        let listener = modbus_tcp_listen(ctx, 32)
        guard listener >= 0 else {
            throw .connectFailed(reason: "cannot listen on \(host):\(port): \(String(cString: strerror(errno)))")
        }
        defer { close(listener) }
        ready("tcp://\(host):\(boundPort(listener))")

        var clients: [Int32] = []
        var query = [UInt8](repeating: 0, count: Int(MODBUS_TCP_MAX_ADU_LENGTH))
        let started = monotonic()
        var nextRefresh = started
        while ModbusSimulator.stopRequested == 0 {
            var fds =
                [pollfd(fd: listener, events: Int16(POLLIN), revents: 0)]
                + clients.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            let ready = poll(&fds, nfds_t(fds.count), Int32(refreshInterval.milliseconds))
            if monotonic() >= nextRefresh {
                refresh(started)
                nextRefresh = monotonic() + UInt64(refreshInterval.microseconds) * 1000
            }
            guard ready > 0 else { continue }
            if fds[0].revents & Int16(POLLIN) != 0 {
                let client = accept(listener, nil, nil)
                if client >= 0 { clients.append(client) }
            }
            for entry in fds.dropFirst() where entry.revents != 0 {
                modbus_set_socket(ctx, entry.fd)
                let length = modbus_receive(ctx, &query)
                if length > 0 {
                    let unit = Int(query[6])
                    if let device = devices[unit] ?? (devices.count == 1 && unit == 0xFF ? devices.values.first : nil) {
                        Self.reply(ctx, query, length, header: 7, device)
                    } else {
                        // As a gateway would: no device behind this unit id.
                        modbus_reply_exception(ctx, query, UInt32(MODBUS_EXCEPTION_GATEWAY_TARGET))
                    }
                } else if length < 0 {
                    close(entry.fd)
                    clients.removeAll { $0 == entry.fd }
                }
            }
        }
        clients.forEach { close($0) }
    }

    private func serveRTU(device path: String, serial: SerialSettings, ready: (String) -> Void) throws(ModbusError) {
        guard devices.count == 1, let device = devices.values.first else {
            throw .connectFailed(reason: "an RTU simulator serves exactly one unit id")
        }
        let parity: CChar =
            serial.parity == .none
            ? CChar(UInt8(ascii: "N")) : serial.parity == .even ? CChar(UInt8(ascii: "E")) : CChar(UInt8(ascii: "O"))
        guard let ctx = modbus_new_rtu(path, Int32(serial.baud), parity, Int32(serial.dataBits), Int32(serial.stopBits))
        else {
            throw .connectFailed(reason: "cannot create an RTU server context for \(path)")
        }
        defer { modbus_free(ctx) }
        modbus_set_slave(ctx, Int32(device.unit))
        guard modbus_connect(ctx) == 0 else {
            throw .connectFailed(reason: "\(path): \(String(cString: modbus_strerror(errno)))")
        }
        defer { modbus_close(ctx) }
        ready("rtu://\(path) unit \(device.unit)")
        var query = [UInt8](repeating: 0, count: Int(MODBUS_RTU_MAX_ADU_LENGTH))
        let started = monotonic()
        while ModbusSimulator.stopRequested == 0 {
            refresh(started)
            var entry = pollfd(fd: modbus_get_socket(ctx), events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, Int32(refreshInterval.milliseconds)) > 0 else { continue }
            let length = modbus_receive(ctx, &query)
            if length > 0 {
                Self.reply(ctx, query, length, header: 1, device)
            } else if length < 0, errno != EMBBADCRC_VALUE, errno != ETIMEDOUT {
                modbus_flush(ctx)
            }
        }
    }

    /// Answers a request as the device would: a write it refuses gets its exception, anything else libmodbus's reply.
    private static func reply(
        _ ctx: OpaquePointer, _ query: [UInt8], _ length: Int32, header: Int, _ device: SimulatedDevice
    ) {
        let refusal = query.withUnsafeBufferPointer {
            device.judgeWrite(UnsafeBufferPointer(rebasing: $0[header..<max(header, Int(length))]))
        }
        if let refusal {
            modbus_reply_exception(ctx, query, refusal)
        } else {
            modbus_reply(ctx, query, length, device.mapping)
        }
    }

    private func boundPort(_ socket: Int32) -> Int {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    private func monotonic() -> UInt64 { TramClock.system.monotonicNanoseconds() }
}

private let EMBBADCRC_VALUE = TRAM_EMBBADCRC
