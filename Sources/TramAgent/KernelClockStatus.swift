#if canImport(Glibc)
import Glibc
#endif
internal import CLinux

/// What the kernel says of its clock's discipline: `adjtimex(2)` read without changing anything.
///
/// NTP and PTP daemons (chrony, ntpd, systemd-timesyncd, ptp4l with phc2sys) clear `STA_UNSYNC` once they
/// have the clock in hand, and the kernel sets it again by itself when its estimated error passes 16 s
/// (the daemon died, the network went away). `adjtimex` then also answers `TIME_ERROR`. Either one means
/// the wall clock cannot be trusted; `date` on a gateway that booted without NTP shows 1970 or the last
/// shutdown's time, and this is how a reading says so.
public struct KernelClockStatus: Sendable, Equatable {
    /// What `adjtimex` returned: a clock state (`TIME_OK`, `TIME_INS`, `TIME_DEL`, `TIME_OOP`, `TIME_WAIT`,
    /// `TIME_ERROR`), or -1 if the call failed (a seccomp filter, say).
    public var state: Int32
    /// The `STA_*` bits of `timex.status`.
    public var status: Int32

    public init(state: Int32, status: Int32) {
        self.state = state
        self.status = status
    }

    /// The kernel's clock is disciplined by a time daemon: no error state, no `STA_UNSYNC`.
    /// A pending leap second (`TIME_INS`, `TIME_DEL`, `TIME_OOP`, `TIME_WAIT`) is still synchronised.
    public var isSynchronised: Bool {
        state >= 0 && state != TIME_ERROR && status & STA_UNSYNC == 0
    }

    /// The running kernel's status. A read-only query (`modes = 0`): no privilege needed.
    public static func current() -> KernelClockStatus {
        var request = timex()
        let state = adjtimex(&request)
        return KernelClockStatus(state: state, status: request.status)
    }

    /// As `adjtimex` reports a clock no daemon has touched since boot.
    public static let unsynchronised = KernelClockStatus(state: TIME_ERROR, status: STA_UNSYNC)
    /// As `adjtimex` reports a clock a daemon keeps in hand (`STA_PLL`, no leap second pending).
    public static let synchronised = KernelClockStatus(state: TIME_OK, status: STA_PLL)
}
