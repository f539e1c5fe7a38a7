import Logging
import SystemPackage
import TramSchema
import TramSpool
#if canImport(Glibc)
import Glibc
#endif

/// The spool's figures (docs/performance.md): append throughput and fsyncs under the default sync
/// policy, per-record overhead, start-up with a 1 GiB backlog and drain rate; or, with `--rate`, a
/// paced run for write amplification (Benchmarks/spool.sh measures the device around it).
///
///     tram-bench spool [--dir DIR] [--seconds 10] [--append-mib 4096] [--backlog-mib 1024] [--runs 5] [--batch-seconds 60] [--keep]
///     tram-bench spool --rate READINGS_PER_S --seconds N [--model gateway|device] [--dir DIR] [--batch-seconds 60] [--device loopN] [--keep]
///
/// Spools are made in fresh subdirectories of DIR (default a new directory under /tmp) and removed
/// afterwards unless `--keep`. Every phase uses the default sync policy (sync_interval 1 s) and calls
/// `tick()` once a second, as the agent's spool thread does.
enum SpoolBenchmark {
    static let sink = "collector"

    struct Settings {
        var directory: String?
        var seconds = 10.0
        var appendMiB = 4096
        var backlogMiB = 1024
        var runs = 5
        var batchSeconds = 60
        var rate: Double?
        var device: String?
        /// Paced mode: one gateway-wide batch per batch age (the agent's), or one small batch per device stream.
        var perDevice = false
        var keep = false
    }

    static func main(_ arguments: ArraySlice<String>) {
        var settings = Settings()
        var rest = arguments
        func value(_ flag: String) -> String {
            guard let next = rest.popFirst() else { fail("spool: \(flag) needs a value") }
            return next
        }
        func number<T: LosslessStringConvertible>(_ flag: String) -> T {
            let text = value(flag)
            guard let number = T(text) else { fail("spool: \(flag) takes a number, not '\(text)'") }
            return number
        }
        while let flag = rest.popFirst() {
            switch flag {
            case "--dir": settings.directory = value(flag)
            case "--seconds": settings.seconds = number(flag)
            case "--append-mib": settings.appendMiB = number(flag)
            case "--backlog-mib": settings.backlogMiB = number(flag)
            case "--runs": settings.runs = max(1, number(flag))
            case "--batch-seconds": settings.batchSeconds = number(flag)
            case "--rate": settings.rate = number(flag) as Double
            case "--device": settings.device = value(flag)
            case "--model":
                switch value(flag) {
                case "gateway": settings.perDevice = false
                case "device": settings.perDevice = true
                default: fail("spool: --model is gateway or device")
                }
            case "--keep": settings.keep = true
            default:
                fail(
                    "usage: tram-bench spool [--dir DIR] [--seconds S] [--append-mib M] [--backlog-mib M] [--runs N] [--batch-seconds B] [--keep] | spool --rate R --seconds S [--model gateway|device] [--device loopN]"
                )
            }
        }
        let madeDirectory = settings.directory == nil
        let directory = settings.directory ?? SpoolFiles.temporary()
        mkdir(directory, 0o750)
        verifySyncCounter(directory)
        if let rate = settings.rate {
            paced(rate: rate, settings: settings, directory: directory)
        } else {
            flatOut(
                settings: settings, batches: SpoolBatches(batchSeconds: settings.batchSeconds), directory: directory)
        }
        if madeDirectory && !settings.keep { rmdir(directory) }
    }

    static func logger() -> Logger {
        var logger = Logger(label: "tram.spool")
        logger.logLevel = .warning
        return logger
    }

    static func open(_ directory: String, maximumBytes: Int = 1 << 30) -> Spool {
        do {
            return try Spool(
                options: SpoolOptions(directory: FilePath(directory), maximumBytes: maximumBytes, sinks: [sink]),
                logger: logger())
        } catch {
            fail("cannot open a spool in \(directory): \(error)")
        }
    }

    static func close(_ spool: Spool) {
        do { try spool.close() } catch { fail("spool close failed: \(error)") }
    }

    /// The fsync figures are only honest if the interposed fdatasync really sees the spool's calls.
    static func verifySyncCounter(_ directory: String) {
        let path = SpoolFiles.fresh(directory + "/sync-check")
        let before = SpoolFiles.syncCalls.fdatasync
        let spool = open(path)
        close(spool)
        guard SpoolFiles.syncCalls.fdatasync > before else {
            fail("the fdatasync counter saw none of the spool's syncs")
        }
        SpoolFiles.remove(path)
    }

    static func seconds(since start: UInt64) -> Double { Double(WireBenchmark.now() - start) / 1e9 }
    static func megabytes(_ bytes: Int) -> Double { Double(bytes) / 1e6 }
    /// A whole number with thousands separators: 147,759,507.
    static func whole(_ value: Double) -> String {
        var digits = String(Int(value.rounded()))
        var groups: [Substring] = []
        while digits.count > 3 { groups.insert(digits.suffix(3), at: 0); digits.removeLast(3) }
        return ([Substring(digits)] + groups).joined(separator: ",")
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.count % 2 == 1
            ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }

    static func describe(_ counters: SpoolCounters) -> String {
        let dropped = counters.dropped.filter { $0.value.batches > 0 }.map { "\($0.key) \($0.value.readings)" }.sorted()
        return
            "appended \(counters.appended.readings), delivered \(counters.delivered.readings), buffered \(counters.buffered.readings), "
            + "dropped \(dropped.isEmpty ? "0" : dropped.joined(separator: " ")) readings; books \(counters.balances ? "balance" : "DO NOT BALANCE")"
    }
}
