import Synchronization
import TramConfig
import TramModbus

/// What the agent knows about each device right now, and its most recent poll cycles, for `tramctl status`,
/// `top` and `tail`.
///
/// Updated on the I/O threads after every cycle: one short lock, no I/O. The ring keeps the newest cycles with
/// a running number, so `tail` can ask for everything after the last one it saw and learn how many it missed.
/// It exists only while someone tails (a `cycles` request in the last 10 s): at 500 devices a full ring holds
/// megabytes of readings, and even its empty slots 280 KB, that nobody reads the rest of the time.
public final class DeviceBoard: Sendable {
    public struct Entry: Sendable {
        public var device: DeviceConfig
        public var latest: DeviceReading?
        /// The last cycle's duration.
        public var latencyMilliseconds: Double = 0
        public var cycles = 0
        public var failedCycles = 0
    }

    public struct Cycle: Sendable {
        public var number: Int
        public var reading: DeviceReading
    }

    private struct State {
        var entries: [String: Entry]
        /// The devices' names, sorted: the order `status` lists them in, kept so that a page of it does not sort
        /// every entry under the lock the pollers record into (3,334 devices: 28 ms a page before, most of it there).
        var order: [String]
        /// Empty unless someone tails; then `capacity` slots.
        var ring: [Cycle?] = []
        var next = 1
        /// Monotonic milliseconds until which cycles go into the ring.
        var tailingUntil: Int64 = 0
    }

    static let tailWindowMilliseconds: Int64 = 10_000

    public let capacity: Int
    private let state: Mutex<State>

    public init(devices: [DeviceConfig], capacity: Int = 2048) {
        self.capacity = capacity
        var entries: [String: Entry] = [:]
        entries.reserveCapacity(devices.count)
        for device in devices { entries[device.name] = Entry(device: device) }
        state = Mutex(State(entries: entries, order: entries.keys.sorted()))
    }

    public func record(_ reading: DeviceReading, latencyMilliseconds: Double, nowMilliseconds: Int64) {
        state.withLock { state in
            state.entries[reading.device]?.latest = reading
            state.entries[reading.device]?.latencyMilliseconds = latencyMilliseconds
            state.entries[reading.device]?.cycles += 1
            if reading.health.state == .offline || reading.health.state == .degraded {
                state.entries[reading.device]?.failedCycles += 1
            }
            if nowMilliseconds < state.tailingUntil {
                if state.ring.isEmpty { state.ring = Array(repeating: nil, count: capacity) }
                state.ring[state.next % capacity] = Cycle(number: state.next, reading: reading)
            } else if !state.ring.isEmpty {
                state.ring = []
            }
            state.next += 1
        }
    }

    /// Every device's entry, sorted by name.
    public var entries: [Entry] { entries(at: nil).entries }

    /// The entries at `positions` (clamped) of the devices sorted by name, all when nil, and how many there are.
    public func entries(at positions: Range<Int>?) -> (entries: [Entry], total: Int) {
        state.withLock { state in
            let shown = positions?.clamped(to: state.order.indices) ?? state.order.indices
            return (state.order[shown].compactMap { state.entries[$0] }, state.order.count)
        }
    }

    /// Cycles numbered after `cursor` still in the ring, the cursor to ask with next, and how many were missed.
    public func cycles(after cursor: Int, nowMilliseconds: Int64) -> (cycles: [Cycle], next: Int, missed: Int) {
        state.withLock { state in
            state.tailingUntil = nowMilliseconds + Self.tailWindowMilliseconds
            let newest = state.next - 1
            var first = max(cursor + 1, 1)
            var missed = 0
            if newest - first + 1 > capacity {
                missed = newest - capacity + 1 - first
                first = newest - capacity + 1
            }
            guard first <= newest, !state.ring.isEmpty else { return ([], newest, 0) }
            var cycles: [Cycle] = []
            cycles.reserveCapacity(newest - first + 1)
            for number in first...newest {
                if let cycle = state.ring[number % capacity], cycle.number == number { cycles.append(cycle) }
            }
            return (cycles, newest, missed)
        }
    }

    /// How many devices are online, degraded and offline by their last cycle; a device not read yet counts offline.
    public func stateCounts() -> (online: Int, degraded: Int, offline: Int) {
        state.withLock { state in
            var counts = (online: 0, degraded: 0, offline: 0)
            for entry in state.entries.values {
                switch entry.latest?.health.state {
                case .online?: counts.online += 1
                case .degraded?: counts.degraded += 1
                default: counts.offline += 1
                }
            }
            return counts
        }
    }

    public func device(named name: String) -> DeviceConfig? { state.withLock { $0.entries[name]?.device } }

    /// After a reload: devices that stay keep their figures, new ones start empty, removed ones go.
    public func setDevices(_ devices: [DeviceConfig]) {
        let order = Set(devices.map(\.name)).sorted()
        state.withLock { state in
            var entries: [String: Entry] = [:]
            entries.reserveCapacity(devices.count)
            for device in devices {
                var entry = state.entries[device.name] ?? Entry(device: device)
                // A cycle read under other points would be shown under the wrong names.
                if entry.device.points.map(\.name) != device.points.map(\.name) { entry = Entry(device: device) }
                entry.device = device
                entries[device.name] = entry
            }
            state.entries = entries
            state.order = order
        }
    }
}
