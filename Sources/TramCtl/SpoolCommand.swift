import ArgumentParser
import Logging
import SystemPackage
import TramCompression
import TramSchema
import TramSpool
import TramCore

/// `tramctl spool`: look inside the agent's disk spool while the agent runs. Read-only.
struct SpoolCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spool",
        abstract: "Inspect the agent's disk spool: fill, books and health; verify every record; dump batches.",
        discussion: "Reads only: never locks, truncates or deletes, so it is safe while tram-agent runs.",
        subcommands: [Stats.self, Verify.self, Dump.self],
        defaultSubcommand: Stats.self)

    struct Location: ParsableArguments {
        @Option(name: .customLong("dir"), help: "The spool directory.")
        var directory = "/var/lib/tram/spool"

        @Option(help: "Sinks that must acknowledge a batch (as in the agent's config).")
        var sinks = "collector"

        func open() throws -> Spool {
            var logger = Logger(label: "tramctl.spool")
            logger.logLevel = .critical
            let options = SpoolOptions(directory: FilePath(directory), sinks: CLIParsing.list(sinks))
            do {
                return try Spool(options: options, logger: logger, access: .inspector)
            } catch {
                throw ValidationError("\(error)")
            }
        }
    }

    struct Stats: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Size, age of the oldest batch, and the books: appended = delivered + buffered + dropped.")

        @OptionGroup var location: Location

        @Flag(help: "Print one JSON object.")
        var json = false

        func run() throws {
            let spool = try location.open()
            let status = spool.status
            let c = status.counters
            let now = TramClock.system.wallMilliseconds()
            let oldest = status.oldestBufferedMilliseconds.map { max(0, now - $0) }
            let holder = Spool.holder(of: FilePath(location.directory))
            if json {
                let dropped = DropCause.allCases.map {
                    #""\#($0)":{"readings":\#(c.dropped[$0]?.readings ?? 0),"batches":\#(c.dropped[$0]?.batches ?? 0)}"#
                }
                func tally(_ t: Tally) -> String { #"{"readings":\#(t.readings),"batches":\#(t.batches)}"# }
                print(
                    #"{"directory":"\#(location.directory)","owner":\#(holder.map { "\"\($0)\"" } ?? "null"),"epoch":\#(status.epoch),"#
                        + #""next_sequence":\#(status.nextSequence),"segments":\#(status.segments),"bytes":\#(status.diskBytes),"#
                        + #""oldest_buffered_age_ms":\#(oldest.map(String.init) ?? "null"),"appended":\#(tally(c.appended)),"#
                        + #""delivered":\#(tally(c.delivered)),"buffered":\#(tally(c.buffered)),"dropped":{\#(dropped.joined(separator: ","))},"#
                        + #""balances":\#(c.balances),"kept_files":[\#(status.keptFiles.map { "\"\($0)\"" }.joined(separator: ","))]}"#
                )
                return
            }
            print("spool \(location.directory)  (\(holder.map { "in use by \($0)" } ?? "no agent running"))")
            print("  epoch \(status.epoch), next sequence \(status.nextSequence)")
            print(
                "  \(status.segments) segments, \(Output.bytes(status.diskBytes))"
                    + (oldest.map { ", oldest undelivered batch \(Output.duration(milliseconds: $0)) old" }
                        ?? ", nothing undelivered"))
            print("  appended  \(c.appended)")
            print("  delivered \(c.delivered)")
            print("  buffered  \(c.buffered)")
            for cause in DropCause.allCases {
                if let t = c.dropped[cause], t.batches > 0 { print("  dropped   \(t)  (\(cause))") }
            }
            if !c.balances { print("  books do not balance: report this as a bug") }
            for file in status.keptFiles { print("  kept, not read: \(file)") }
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Read and checksum every record in every segment and the ledger.",
            discussion:
                "Exits 1 when anything is damaged. The agent skips and counts damage by itself; this shows where.")

        @OptionGroup var location: Location

        func run() throws {
            let directory = FilePath(location.directory)
            let files = SpoolVerifier.files(in: directory)
            guard !files.isEmpty else { throw ValidationError("no spool files in \(location.directory)") }
            var damaged = 0, records = 0, readings = 0
            for name in files {
                let report = SpoolVerifier.check(directory.appending(name))
                records += report.records
                readings += report.readings
                if report.isIntact {
                    let what =
                        name.hasSuffix(".seg")
                        ? "\(Tally(readings: report.readings, batches: report.batches)), \(report.dictionaries) dictionar\(report.dictionaries == 1 ? "y" : "ies")"
                        : "\(report.records) entries"
                    print("ok       \(name)  \(Output.bytes(report.bytes))  \(what)")
                    continue
                }
                damaged += 1
                if let problem = report.problem { print("KEPT     \(name)  \(problem)"); continue }
                var notes: [String] = []
                for region in report.corrupt { notes.append("corrupt \(region.length) bytes at \(region.offset)") }
                if report.tornBytes > 0 {
                    notes.append("torn tail of \(report.tornBytes) bytes (cut at the agent's next start)")
                }
                if report.undecodable > 0 { notes.append("\(report.undecodable) records with an unreadable header") }
                print("DAMAGED  \(name)  \(report.records) good records; " + notes.joined(separator: "; "))
            }
            print("\(files.count) files, \(records) good records, \(readings) readings, \(damaged) damaged")
            if damaged > 0 { throw ExitCode(1) }
        }
    }

    struct Dump: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the records in the spool, oldest first; --decode prints their readings.")

        @OptionGroup var location: Location

        @Flag(help: "Decode each batch (decompressing it) and print its readings.")
        var decode = false

        @Flag(help: "With --decode: one JSON object per reading.")
        var json = false

        @Option(help: "Stop after this many records.")
        var limit: Int?

        func run() throws {
            let directory = FilePath(location.directory)
            var printer = FramePrinter(json: json)
            var shown = 0
            for name in SpoolVerifier.files(in: directory) where name.hasSuffix(".seg") {
                var failure: String?
                let report = SpoolVerifier.check(directory.appending(name)) { header, frame in
                    if let limit, shown >= limit { return }
                    shown += 1
                    if !decode || !json {
                        let kind =
                            header.kind == .batch
                            ? "batch \(header.identity)  \(header.readings) readings" : "dictionary"
                        print(
                            "\(name)  \(kind)  schema 0x\(String(header.schemaID, radix: 16))  \(frame.count) bytes  created \(header.createdMilliseconds)"
                        )
                    }
                    guard decode else { return }
                    do {
                        printer.print(
                            try FrameCodec.decode(Array(frame), dictionary: { printer.dictionaries[$0] }).frame)
                    } catch {
                        failure = "\(name) \(header.identity): \(error)"
                    }
                }
                if let failure { print("error: \(failure)", to: &standardError) }
                if let problem = report.problem { print("\(name): \(problem)", to: &standardError) }
                if let limit, shown >= limit { break }
            }
        }
    }
}
