/// One gateway as the console's fleet page shows it (``CollectorStore/fleet(site:now:days:)``).
public struct ConsoleGateway: Sendable, Equatable {
    public var name: String
    public var site: String
    public var revoked: Bool
    public var createdMilliseconds: Int64
    public var lastSeenMilliseconds: Int64?
    /// The agent's batch max age from its newest dictionary; nil when the dictionary does not carry it.
    public var batchAgeMilliseconds: Int64?
    public var clock: ClockState
    public var clockSinceMilliseconds: Int64?
    /// No upload for longer than ``ConsoleGateway/silenceThreshold(batchAgeMilliseconds:)``.
    public var silent: Bool
    public var devicesOnline = 0
    public var devicesDegraded = 0
    public var devicesOffline = 0
    /// Readings the relays hold back for this gateway (implausible timestamps), and since when.
    public var heldBack: Int64 = 0
    public var heldSinceMilliseconds: Int64?
    /// Received today (the local day in the console's time zone): readings and stored request-body bytes.
    public var readingsToday: Int64 = 0
    public var bytesToday: Int64 = 0
    /// Stored request-body bytes per local day, oldest first, ending with today.
    public var dailyBytes: [LocalDayTotal] = []
    /// Its built-in modem's newest readings; nil when it has no modem device.
    public var link: ConsoleLink?

    /// A gateway is silent after max(60 s, 3 × its batch age) without an upload, or 5 min when the age is unknown.
    public static func silenceThreshold(batchAgeMilliseconds: Int64?) -> Int64 {
        guard let age = batchAgeMilliseconds else { return 300_000 }
        return max(60_000, 3 * age)
    }

    static func isSilent(lastSeen: Int64?, batchAge: Int64?, now: Int64) -> Bool {
        guard let lastSeen else { return true }
        return now - lastSeen > silenceThreshold(batchAgeMilliseconds: batchAge)
    }
}

/// What a gateway sent on one local day.
public struct LocalDayTotal: Sendable, Equatable {
    /// Days since 1970-01-01 in the console's time zone (``LocalCalendar/dayNumber(_:)``).
    public var day: Int64
    public var bytes: Int64
    public var readings: Int64

    public init(day: Int64, bytes: Int64, readings: Int64) {
        self.day = day
        self.bytes = bytes
        self.readings = readings
    }
}

/// One device on a gateway's page.
public struct ConsoleDevice: Sendable, Equatable {
    public var name: String
    public var state: DeviceState
    public var points: Int
    public var goodPoints: Int
    public var lastReadingMilliseconds: Int64?
    /// The newest problem among its points now: its text ("timeout", "exception 2 (illegal data address)"), the point
    /// and since when. nil when every point is good.
    public var problem: ConsoleProblemText?
}

public struct ConsoleProblemText: Sendable, Equatable {
    public var point: String
    public var quality: ConsoleQuality
    public var text: String
    public var sinceMilliseconds: Int64
}

/// One point on a device's page, with its latest reading (from point_latest).
public struct ConsolePoint: Sendable, Equatable {
    public var id: Int64
    public var name: String
    public var unit: String
    public var type: UInt8
    public var counter: Bool
    public var intervalMilliseconds: Int64?
    public var latest: Latest?

    public struct Latest: Sendable, Equatable {
        public var timeMilliseconds: Int64
        public var value: Double?
        public var rawInt: Int64?
        public var rawText: String?
        public var type: UInt8
        public var quality: ConsoleQuality
        public var exception: Int?
        public var clockSynchronised: Bool
        public var qualitySinceMilliseconds: Int64

        /// The value as stored, as text: the engineering value as Swift prints a Double (shortest round trip), a
        /// bool as true/false, a string as it is; nil without a value.
        public var text: String? {
            switch type {
            case 1: rawInt.map { $0 != 0 ? "true" : "false" }
            case 10: rawText
            default: value.map { "\($0)" } ?? rawText
            }
        }
    }
}
