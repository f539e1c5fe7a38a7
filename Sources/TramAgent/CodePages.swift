#if canImport(Glibc)
import Glibc
#endif

/// Hands back the code pages that only start-up used.
///
/// Linux maps a binary's and its libraries' text 64 KiB at a time around each page touched (fault-around), and
/// start-up touches much code the steady path never runs again: the config decoder, libcurl's and OpenSSL's
/// initialisation, the runtime's own set-up. Those pages stay resident, counted in the agent's RSS, until memory runs
/// short. After start-up the agent asks the kernel to drop its clean executable pages (`MADV_DONTNEED` on a clean
/// private file mapping only forgets the mapping; the page cache keeps the data): what the steady path needs
/// faults back in at once, the rest stays out.
///
/// Only mappings with no private dirty pages are touched, so a page the loader patched is never dropped.
enum CodePages {
    struct Outcome: Sendable {
        var mappings = 0
        /// Resident before, in KiB.
        var residentKilobytes = 0
    }

    static func dropClean() -> Outcome {
        var outcome = Outcome()
        guard let file = fopen("/proc/self/smaps", "r") else { return outcome }
        defer { fclose(file) }
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(line) }
        var current: (start: UInt, end: UInt, rss: Int, dirty: Int)?
        func finish() {
            guard let mapping = current, mapping.dirty == 0, mapping.rss > 0 else { return }
            let start = UnsafeMutableRawPointer(bitPattern: mapping.start)
            if madvise(start, Int(mapping.end - mapping.start), MADV_DONTNEED) == 0 {
                outcome.mappings += 1
                outcome.residentKilobytes += mapping.rss
            }
        }
        while getline(&line, &capacity, file) > 0, let line {
            let text = String(cString: line)
            if let range = Self.executableMapping(text) {
                finish()
                current = (range.start, range.end, 0, 0)
            } else if Self.isMappingHeader(text) {
                finish()
                current = nil
            } else if current != nil {
                if text.hasPrefix("Rss:") { current?.rss = Self.kilobytes(text) }
                if text.hasPrefix("Private_Dirty:") { current?.dirty = Self.kilobytes(text) }
            }
        }
        finish()
        return outcome
    }

    /// `start-end r-xp offset dev inode path` of a file's executable mapping; nil for any other line.
    static func executableMapping(_ line: String) -> (start: UInt, end: UInt)? {
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count >= 6, fields[1] == "r-xp", fields[5].hasPrefix("/") else { return nil }
        let bounds = fields[0].split(separator: "-")
        guard bounds.count == 2, let start = UInt(bounds[0], radix: 16), let end = UInt(bounds[1], radix: 16),
            end > start
        else { return nil }
        return (start, end)
    }

    static func isMappingHeader(_ line: String) -> Bool {
        guard let first = line.split(separator: " ", maxSplits: 1).first else { return false }
        return first.contains("-") && first.allSatisfy { $0.isHexDigit || $0 == "-" }
    }

    static func kilobytes(_ line: String) -> Int {
        Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0
    }
}
