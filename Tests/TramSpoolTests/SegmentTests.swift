import SystemPackage
import Testing
import TramSchema
import TramSpool
import TramTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// A fresh directory under /tmp, removed when the test ends.
final class ScratchDirectory {
    let path: FilePath

    init() {
        var template = Array("/tmp/tram-spool-test-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        path = FilePath(String(cString: made!))
    }

    deinit {
        if let dir = opendir(path.string) {
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) {
                    String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
                }
                if name != ".", name != ".." { unlink(path.appending(name).string) }
            }
            closedir(dir)
        }
        rmdir(path.string)
    }
}

func readFile(_ path: FilePath) -> [UInt8] {
    guard let file = fopen(path.string, "rb") else { return [] }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = fread(&chunk, 1, chunk.count, file)
        if count == 0 { return bytes }
        bytes += chunk[..<count]
    }
}

func writeFile(_ path: FilePath, _ bytes: [UInt8]) {
    let file = fopen(path.string, "wb")!
    _ = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
    fclose(file)
}

@Suite("Spool segments")
struct SegmentTests {
    /// Writes `count` records of random sizes and returns the segment's path and the payloads.
    static func writeSegment(in directory: FilePath, count: Int, seed: UInt64) throws -> (FilePath, [[UInt8]]) {
        var random = SeededRandom(seed: seed)
        let writer = try SegmentWriter(directory: directory, id: 7, createdMilliseconds: 1_764_000_000_000)
        var payloads: [[UInt8]] = []
        for _ in 0..<count {
            let payload = (0..<Int.random(in: 0...300, using: &random)).map { _ in
                UInt8.random(in: 0...255, using: &random)
            }
            try payload.withUnsafeBytes { try writer.append($0) }
            payloads.append(payload)
        }
        try writer.sync()
        return (writer.path, payloads)
    }

    static func scan(_ bytes: [UInt8]) -> Result<SegmentScan, SegmentProblem> {
        bytes.withUnsafeBytes { SegmentScanner.scan($0) }
    }

    static func payloads(_ scan: SegmentScan, _ bytes: [UInt8]) -> [[UInt8]] {
        scan.records.map { Array(bytes[$0.offset..<$0.offset + $0.length]) }
    }

    @Test("records read back exactly, with 12 bytes of framing each")
    func roundTrip() throws {
        let directory = ScratchDirectory()
        let (path, payloads) = try Self.writeSegment(in: directory.path, count: 200, seed: 1)
        let bytes = readFile(path)
        let scan = try Self.scan(bytes).get()
        #expect(scan.header.segmentID == 7 && scan.header.version == SegmentFormat.version)
        #expect(Self.payloads(scan, bytes) == payloads)
        #expect(scan.tornBytes == 0 && scan.corrupt.isEmpty)
        #expect(
            bytes.count == SegmentFormat.headerSize
                + payloads.reduce(0) { $0 + $1.count + SegmentFormat.recordHeaderSize })
    }

    @Test(
        "a record cut short at any byte is a torn tail: every earlier record survives, recovery truncates, appends resume"
    )
    func tornTail() throws {
        let directory = ScratchDirectory()
        let (path, payloads) = try Self.writeSegment(in: directory.path, count: 20, seed: 2)
        let full = readFile(path)
        let lastStart = full.count - payloads.last!.count - SegmentFormat.recordHeaderSize
        for cut in lastStart..<full.count {
            let scan = try Self.scan(Array(full[..<cut])).get()
            #expect(Self.payloads(scan, full) == Array(payloads.dropLast()), "cut at \(cut)")
            #expect(scan.validSize == lastStart && scan.tornBytes == cut - lastStart)
        }
        writeFile(path, Array(full[..<(full.count - 3)]))
        let recovered = try SegmentScanner.recover(path).get()
        #expect(recovered.tornBytes == full.count - 3 - lastStart && readFile(path).count == lastStart)
        let writer = try SegmentWriter(
            reopening: path, id: 7, validSize: recovered.validSize, records: recovered.records.count)
        let extra: [UInt8] = [1, 2, 3]
        try extra.withUnsafeBytes { try writer.append($0) }
        let bytes = readFile(path)
        #expect(Self.payloads(try Self.scan(bytes).get(), bytes) == Array(payloads.dropLast()) + [extra])
    }

    @Test("flipped bits and zeroed ranges lose only the records they touch, and say how many bytes")
    func corruption() throws {
        let directory = ScratchDirectory()
        let (path, payloads) = try Self.writeSegment(in: directory.path, count: 60, seed: 3)
        let clean = readFile(path)
        let records = try Self.scan(clean).get().records
        var random = SeededRandom(seed: 4)
        for _ in 0..<200 {
            var bytes = clean
            let victim = Int.random(in: 0..<59, using: &random)  // never the last: damage there is a torn tail
            let start = records[victim].offset - SegmentFormat.recordHeaderSize
            let end = records[victim].offset + records[victim].length
            if Bool.random(using: &random) {
                bytes[Int.random(in: start..<end, using: &random)] ^= 1 << UInt8.random(in: 0...7, using: &random)
            } else {
                for i in start..<min(end, start + Int.random(in: 1...40, using: &random)) { bytes[i] = 0 }
            }
            let scan = try Self.scan(bytes).get()
            var expected = payloads
            expected.remove(at: victim)
            #expect(Self.payloads(scan, bytes) == expected)
            #expect(scan.corrupt.count == 1 && scan.tornBytes == 0)
            #expect(scan.corrupt.first?.offset == start && scan.corrupt.first?.length == end - start)
        }
    }

    @Test("a segment of an unknown format version is reported and left untouched; a bad header is refused")
    func unknownVersion() throws {
        let directory = ScratchDirectory()
        let (path, _) = try Self.writeSegment(in: directory.path, count: 3, seed: 5)
        var bytes = readFile(path)
        bytes[8] = 9
        // Re-seal the header's checksum, as a future build would write it.
        let crc = CRC32C.checksum(Array(bytes[0..<28]))
        for i in 0..<4 { bytes[28 + i] = UInt8(truncatingIfNeeded: crc >> UInt32(8 * i)) }
        writeFile(path, bytes)
        #expect(try SegmentScanner.recover(path) == .failure(.unknownVersion(9)))
        #expect(readFile(path) == bytes)
        bytes[28] ^= 1
        guard case .failure(.badHeader) = Self.scan(bytes) else {
            Issue.record("a bad header checksum must be refused"); return
        }
    }
}
