import TramBuiltinPoints
import Logging
import TramConfig
import TramCore
import TramDBus
import TramModbus

/// The built-in `modem` device: one poll reads the modem through ModemManager and gives every point of the fixed
/// point set a value or a quality that says why not (docs/builtin-devices.md, "Qualities").
///
/// It finds its modem again after a USB reset (a new object path), and reconnects to the bus after the bus or
/// ModemManager restarts. Each poll blocks on D-Bus for at most the connection's timeout per call: run it on the
/// device's own thread, which owns the connection (sd-bus is not thread-safe). Changes of state are logged once
/// each (modem gone, back, refused), not every poll.
public final class ModemDevice {
    /// What the device has done since start (tramctl status shows the last problem).
    public struct Statistics: Sendable, Equatable {
        public var polls = 0
        /// Polls that found no modem to read (ModemManager missing, no modem, or it vanished).
        public var pollsAbsent = 0
        /// Reads ModemManager refused (polkit).
        public var refusals = 0
        public var lastProblem: String?

        public init() {}
    }

    public let device: BuiltinDevice
    /// `modem: device:`: the modem to read, or nil for the only one.
    public let selector: String?
    public private(set) var statistics = Statistics()
    private let logger: Logger
    private let timeoutMilliseconds: Int64
    private var reader: ModemReader?
    private var connection: DBusConnection?
    /// The modem being read, kept while it answers: a second modem appearing does not move the device.
    private var current: String?
    private let slots: ModemPointSlots

    public init(device: BuiltinDevice, selector: String?, timeoutMilliseconds: Int64 = 2_000, logger: Logger) {
        self.device = device
        self.selector = selector
        self.timeoutMilliseconds = timeoutMilliseconds
        self.logger = logger
        slots = ModemPointSlots(device)
    }

    /// How many modems ModemManager has (for `enabled: auto`), asked on the caller's thread.
    public static func countModems(timeoutMilliseconds: Int64 = 2_000) -> Result<Int, DBusError> {
        do throws(DBusError) {
            let connection = try DBusConnection(timeoutMilliseconds: timeoutMilliseconds)
            return .success(try ModemReader(connection: connection).modems().count)
        } catch {
            return .failure(error)
        }
    }

    /// One poll: every point, stamped `now`.
    public func poll(now: Timestamp) -> DeviceReading {
        statistics.polls += 1
        var points = (0..<device.points.count).map {
            PointReading(point: $0, value: nil, quality: .absent, exponent: 0, timestamp: now)
        }
        var health = DeviceHealth()
        health.cycles = statistics.polls
        switch readSnapshot() {
        case .read(let snapshot):
            slots.fill(&points, from: snapshot)
            health.state = .online
            if let refusal = snapshot.refusal {
                statistics.refusals += 1
                note(refusal)
                health.lastError = refusal
            } else if statistics.lastProblem != nil {
                logger.notice("modem readable again", metadata: ["modem": "\(snapshot.path)"])
                statistics.lastProblem = nil
            }
        case .missing(let problem):
            statistics.pollsAbsent += 1
            note(problem)
            health.state = .offline
            health.lastError = problem
        }
        return DeviceReading(device: device.name, points: points, requests: [], health: health)
    }

    /// Logs a problem when it is new (a modem gone stays one line in the journal, not one a poll).
    private func note(_ problem: String) {
        if statistics.lastProblem != problem {
            logger.warning("modem: \(problem)")
        }
        statistics.lastProblem = problem
    }

    private enum Outcome {
        case read(ModemSnapshot)
        /// Why there is no modem to read, in words to log.
        case missing(String)
    }

    private enum Choice {
        case modem(String)
        case none(String)
    }

    private func readSnapshot() -> Outcome {
        do throws(DBusError) {
            if connection?.isOpen != true {
                connection = nil
                let fresh = try DBusConnection(timeoutMilliseconds: timeoutMilliseconds)
                connection = fresh
                reader = ModemReader(connection: fresh)
            }
            guard let reader else { return .missing("no D-Bus connection") }
            if current == nil {
                switch try choose(reader) {
                case .modem(let path):
                    current = path
                    logger.notice("modem found", metadata: ["modem": "\(path)"])
                case .none(let why): return .missing(why)
                }
            }
            do throws(DBusError) {
                return .read(try reader.read(current!))
            } catch  where error.isObjectMissing {
                // A USB reset: the modem comes back under a new path. Look again at the next poll.
                current = nil
                return .missing("the modem vanished (\(error.name ?? "gone")); looking for it again")
            }
        } catch {
            current = nil
            if error.isServiceMissing { return .missing("ModemManager is not running (it is never started by Tram)") }
            if error.isConnectionLost {
                connection = nil
                reader = nil
            }
            return .missing("cannot read ModemManager: \(error)")
        }
    }

    private func choose(_ reader: ModemReader) throws(DBusError) -> Choice {
        let modems = try reader.modems()
        if let selector {
            for path in modems where try reader.matches(path, selector: selector) { return .modem(path) }
            return .none("ModemManager has no modem '\(selector)' (it has \(modems.count))")
        }
        switch modems.count {
        case 0: return .none("ModemManager has no modem")
        case 1: return .modem(modems[0])
        default:
            return .none(
                "ModemManager has \(modems.count) modems; name one in the agent file's 'modem: device:' (\(modems.joined(separator: ", ")))"
            )
        }
    }
}
