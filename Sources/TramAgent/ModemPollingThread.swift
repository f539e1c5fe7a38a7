import TramBuiltinPoints
import Logging
import Synchronization
import TramConfig
import TramCore
import TramModbus
import TramModem
import TramThreads

/// The built-in `modem` device's own thread: it owns the D-Bus connection (sd-bus is not thread-safe, and each call
/// blocks for up to its timeout), polls at the device's interval, and hands each cycle to `deliver`.
final class ModemPollingThread: Sendable {
    let device: BuiltinDevice
    let settings: ModemSettings
    /// Gets each cycle and the CPU the poll took on this thread, in nanoseconds.
    private let deliver: @Sendable (DeviceReading, Int64) -> Void
    private let logger: Logger
    private let stopping = Atomic<Bool>(false)
    private let wakeup = Wakeup()
    private let thread = Mutex<OwnedThread?>(nil)
    private let published = Mutex(ModemDevice.Statistics())

    init(
        device: BuiltinDevice, settings: ModemSettings, logger: Logger,
        deliver: @escaping @Sendable (DeviceReading, Int64) -> Void
    ) {
        self.device = device
        self.settings = settings
        self.logger = logger
        self.deliver = deliver
    }

    var statistics: ModemDevice.Statistics { published.withLock { $0 } }

    func start() {
        thread.withLock { thread in
            guard thread == nil else { return }
            thread = OwnedThread(name: "tram-modem") { [self] in run() }
        }
    }

    func stop() {
        stopping.store(true, ordering: .releasing)
        wakeup.signal()
        thread.withLock { $0 }?.join()
    }

    private func run() {
        var modemLogger = logger
        modemLogger[metadataKey: "device"] = "modem"
        let modem = ModemDevice(device: device, selector: settings.device, logger: modemLogger)
        let interval = settings.pollInterval.milliseconds
        let clock = TramClock.system
        var next = clock.monotonicMilliseconds()
        while !stopping.load(ordering: .acquiring) {
            let cpu = ProcessUsage.threadCPUNanoseconds()
            let reading = modem.poll(now: clock.now())
            deliver(reading, ProcessUsage.threadCPUNanoseconds() - cpu)
            published.withLock { $0 = modem.statistics }
            next += interval
            let now = clock.monotonicMilliseconds()
            if next < now { next = now }
            wakeup.wait(milliseconds: max(1, next - now))
        }
    }
}
