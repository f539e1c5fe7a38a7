import Logging
import TramConfig
import TramCore

/// Runs a job's Modbus requests on one link, one at a time: in the running agent on the link's own thread between
/// poll cycles (``AcquisitionEngine/withLink(_:pause:timeout:_:)``), or on a link `tramctl` opened itself.
///
/// Each request waits out the device's `pause` since the last frame on the bus (a poll's or this job's), uses the
/// job's response timeout, and is recorded as the poller's are (a broken link closes and backs off). After a
/// timeout it waits until the line has been quiet for a whole response timeout, and an RTU link is flushed before
/// every request, so that a late answer is never taken for the answer to the next request, a poll's or the job's.
public struct LinkAccess {
    let session: LinkSession
    public let pause: Duration
    public let timeout: Duration

    init(session: LinkSession, pause: Duration, timeout: Duration) {
        self.session = session
        self.pause = pause
        self.timeout = timeout
    }

    /// A link of its own, for `tramctl` when no agent owns it. Opened at the first request.
    public init(link: LinkConfig, pause: Duration, timeout: Duration, logger: Logger) {
        self.init(session: LinkSession(link: link, logger: logger), pause: pause, timeout: timeout)
    }

    /// The link's name in its config.
    public var linkName: String { session.link.name }

    /// Runs one request: `body` makes one call on the connection.
    public func request<T>(_ body: (ModbusConnection) throws(ModbusError) -> T) -> Result<T, ModbusError> {
        if let down = session.ensureOpen() { return .failure(down) }
        session.pace(pause)
        session.connection.setResponseTimeout(timeout)
        do {
            let value = try body(session.connection)
            session.frameEnded()
            session.record(nil)
            return .success(value)
        } catch {
            // A write's late answer (a setup register written to EEPROM) may come long after the timeout: the line
            // must be quiet for a whole timeout before the next request, however long that takes, up to ten.
            if error == .timeout { session.connection.drainUntilQuiet(timeout, limit: timeout * 10) }
            session.frameEnded()
            session.record(error)
            return .failure(error)
        }
    }

    /// Closes a link this access opened for itself.
    public func close() { session.connection.close() }
}
