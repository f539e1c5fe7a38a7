import Logging
import TramConfig
import TramCore
import TramThreads
#if canImport(Glibc)
import Glibc
#endif

/// A link's connection and its reconnect state. Confined to the link's lane.
final class LinkSession {
    let link: LinkConfig
    let connection: ModbusConnection
    private var backoff = Backoff.reconnect
    private var retryAtNanoseconds: UInt64 = 0
    private(set) var lastError: ModbusError?
    private var consecutiveTimeouts = 0
    /// When the last frame on this link ended, for the silence a device asks for between requests.
    private var lastFrameEndNanoseconds: UInt64 = 0
    private let logger: Logger

    /// Consecutive timeouts after which a TCP connection is presumed dead
    /// (a NAT or firewall that dropped it silently) and reopened.
    static let timeoutsBeforeReconnect = 3

    /// 3.5 character times on a local serial line; nothing on TCP (a serial device server keeps its own line's).
    private let minimumSilence: Duration

    init(link: LinkConfig, logger: Logger) {
        self.link = link
        if case .rtu(_, let serial) = link.endpoint {
            minimumSilence = serial.interFrameSilence
        } else {
            minimumSilence = .zero
        }
        self.connection = ModbusConnection(link: link)
        self.logger = logger
    }

    /// Opens the link if it is closed and its backoff has passed; otherwise says why not.
    func ensureOpen() -> ModbusError? {
        if connection.isOpen { return nil }
        let now = TramClock.system.monotonicNanoseconds()
        if now < retryAtNanoseconds {
            let wait = Duration.nanoseconds(Int64(retryAtNanoseconds - now))
            return .linkDown(reason: "\(lastError?.description ?? "closed"); retrying in \(wait.shortDescription)")
        }
        do {
            try connection.open()
            if backoff.failures > 0 {
                logger.info("link up", metadata: ["link": "\(link.name)", "after_failures": "\(backoff.failures)"])
            }
            backoff.reset()
            lastError = nil
            return nil
        } catch {
            fail(error)
            return error
        }
    }

    /// Waits out the silence the next device asks for since the last frame on this link, and on a serial line at
    /// least the 3.5 character times Modbus RTU requires between frames (libmodbus does not keep them: its next
    /// request followed a reply by 0.12–0.28 ms on a pty at 19,200 baud, where 1.82 ms are due).
    func pace(_ pause: Duration) {
        let silence = max(pause, minimumSilence)
        guard silence > .zero, lastFrameEndNanoseconds > 0 else { return }
        let due = lastFrameEndNanoseconds + UInt64(silence.microseconds) * 1000
        let now = TramClock.system.monotonicNanoseconds()
        if now < due { OwnedThread.sleep(nanoseconds: due - now) }
    }

    func frameEnded() { lastFrameEndNanoseconds = TramClock.system.monotonicNanoseconds() }

    /// Records a request's failure; closes the link when the failure means it is broken.
    func record(_ error: ModbusError?) {
        guard let error else {
            consecutiveTimeouts = 0
            return
        }
        if error == .timeout, case .tcp = link.endpoint {
            consecutiveTimeouts += 1
            if consecutiveTimeouts >= Self.timeoutsBeforeReconnect {
                consecutiveTimeouts = 0
                fail(.io(errno: ETIMEDOUT, reason: "\(Self.timeoutsBeforeReconnect) timeouts in a row; reconnecting"))
            }
            return
        }
        if error.breaksConnection { fail(error) }
    }

    private func fail(_ error: ModbusError) {
        connection.close()
        let delay = backoff.nextDelay()
        retryAtNanoseconds = TramClock.system.monotonicNanoseconds() + UInt64(max(0, delay.microseconds)) * 1000
        if lastError != error {
            logger.warning(
                "link down",
                metadata: ["link": "\(link.name)", "error": "\(error)", "retry_in": "\(delay.shortDescription)"])
        }
        lastError = error
    }
}
