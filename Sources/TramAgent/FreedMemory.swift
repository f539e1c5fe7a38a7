internal import CLinux
import TramCore

/// Gives the kernel back the pages glibc holds free: below the heap's top and in the second arena, which freeing
/// alone never returns (`M_TRIM_THRESHOLD` trims the top only). After a load the YAML tree and the decoder's scratch
/// are such pages, and the first cycles' burst leaves more: 7 MB of a 100,000-point agent's RSS, gone only when some
/// later free happened to trim. The agent trims after loading, after start-up, after a reload, after each control
/// request (a `status` answer is a tree of small blocks) and once a minute.
enum FreedMemory {
    static let intervalMilliseconds: Int64 = 60_000

    /// Returns how long it took, in microseconds.
    @discardableResult
    static func returnToKernel() -> Int64 {
        let started = TramClock.system.monotonicNanoseconds()
        _ = malloc_trim(0)
        return Int64((TramClock.system.monotonicNanoseconds() - started) / 1000)
    }
}
