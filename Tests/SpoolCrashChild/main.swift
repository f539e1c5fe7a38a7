import SystemPackage
import SpoolCrashWorkload
import TramSchema
import TramSpool
import TramTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The child process of the spool's `kill -9` test (`Tests/TramSpoolTests/SpoolCrashTests.swift`).
///
/// It works a spool the way the agent does (append, read back, acknowledge part, tick) while the
/// test kills it at random points. After each call returns it reports what the spool now owes
/// with one unbuffered `write(2)` to stdout (atomic on a pipe), so whatever the test reads is
/// something the spool must honour after the kill:
///
///     O epoch nextSequence unclean   the spool opened
///     D                              the dictionary was appended (a fresh spool)
///     A epoch sequence readings      appendBatch returned .stored
///     P epoch sequence               about to acknowledge: may or may not have landed when killed
///     K epoch sequence               acknowledge returned
///     R count                        nextBatches returned `count` batches, all checked
///     T                              tick returned
///     E message                      a check failed (exit status 3)
///
/// Usage: tram-spool-crash-child DIRECTORY SEED OPERATIONS SEGMENT_BYTES SYNC_MS
/// After OPERATIONS operations it waits to be killed, which bounds each cycle's work.
/// (`tram-spool-crash-child sweep ...` is the deterministic crash-point mode: see CrashSweep.swift.)

let arguments = CommandLine.arguments
if arguments.count > 1 && arguments[1] == "sweep" { runSweep(arguments) }
guard arguments.count == 6, let seed = UInt64(arguments[2]), let operations = Int(arguments[3]),
    let segmentBytes = Int(arguments[4]), let syncMilliseconds = Int64(arguments[5])
else {
    report("E usage: tram-spool-crash-child DIRECTORY SEED OPERATIONS SEGMENT_BYTES SYNC_MS\n")
    exit(2)
}

var random = SeededRandom(seed: seed)
let options = crashSpoolOptions(
    directory: FilePath(arguments[1]), segmentBytes: segmentBytes, syncMilliseconds: syncMilliseconds)
let spool: Spool
do {
    spool = try Spool(options: options)
} catch {
    fail("open: \(error)")
}
report("O \(spool.epoch) \(spool.nextSequence) \(spool.startedUnclean ? 1 : 0)\n")
if spool.dictionary(schemaID: crashSchemaID) == nil {
    let outcome = crashDictionary.withUnsafeBytes { spool.appendDictionary($0, schemaID: crashSchemaID) }
    guard outcome == .stored else { fail("dictionary: \(outcome)") }
    report("D\n")
}

for _ in 0..<operations {
    let choice = random.next() % 100
    if choice < 65 {
        let identity = spool.nextIdentity
        let outcome = crashFrame(identity).withUnsafeBytes {
            spool.appendBatch($0, identity: identity, readings: crashReadings(identity), schemaID: crashSchemaID)
        }
        guard outcome == .stored else { fail("append \(identity): \(outcome)") }
        report("A \(identity.epoch) \(identity.sequence) \(crashReadings(identity))\n")
    } else if choice < 92 {
        let batches = spool.nextBatches(for: crashSink, limit: 1 + Int(random.next() % 8))
        for batch in batches
        where batch.frame != crashFrame(batch.identity) || batch.readings != crashReadings(batch.identity) {
            fail("batch \(batch.identity) came back with other bytes or readings")
        }
        report("R \(batches.count)\n")
        var acknowledging: [BatchIdentity] = [], releasing: [BatchIdentity] = []
        for batch in batches {
            if random.next() % 2 == 0 { acknowledging.append(batch.identity) } else { releasing.append(batch.identity) }
        }
        // Out of order, as live-first replay and a second sink produce.
        for index in acknowledging.indices.reversed() where index > 0 {
            acknowledging.swapAt(index, Int(random.next() % UInt64(index + 1)))
        }
        if !acknowledging.isEmpty {
            report(acknowledging.map { "P \($0.epoch) \($0.sequence)\n" }.joined())
            spool.acknowledge(sink: crashSink, acknowledging)
            report(acknowledging.map { "K \($0.epoch) \($0.sequence)\n" }.joined())
        }
        if random.next() % 2 == 0 { spool.release(sink: crashSink, releasing) }
    } else {
        spool.tick()
        report("T\n")
    }
}
while true { pause() }

/// One `write(2)` of a whole report. Reports stay under PIPE_BUF, so a kill never splits one.
func report(_ text: String) {
    var bytes = Array(text.utf8)
    precondition(bytes.count <= 4096, "a report must fit in one atomic pipe write")
    var offset = 0
    while offset < bytes.count {
        let written = bytes.withUnsafeMutableBytes { write(1, $0.baseAddress! + offset, $0.count - offset) }
        if written < 0 && errno == EINTR { continue }
        if written <= 0 { exit(4) }
        offset += written
    }
}

func fail(_ message: String) -> Never {
    report("E \(message)\n")
    exit(3)
}
