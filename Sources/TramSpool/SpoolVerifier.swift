import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// Reads every record of every file in a spool directory and checks it, without changing anything.
/// What `tramctl spool verify` and `dump` show; safe while the agent runs.
public enum SpoolVerifier {
    public struct FileReport: Sendable {
        public var name: String
        public var bytes: Int
        /// Why the file could not be read at all (unknown version, bad header).
        public var problem: String?
        public var records = 0
        public var batches = 0
        public var dictionaries = 0
        public var readings = 0
        public var corrupt: [(offset: Int, length: Int)] = []
        public var tornBytes = 0
        /// Records whose checksum passed but whose spool header did not decode.
        public var undecodable = 0

        public var isIntact: Bool { problem == nil && corrupt.isEmpty && tornBytes == 0 && undecodable == 0 }
    }

    /// The segment files and the ledger, in name order.
    public static func files(in directory: FilePath) -> [String] {
        names(in: directory).filter { $0.hasSuffix(".seg") || $0 == LedgerFile.name }.sorted()
    }

    /// Every entry of a directory but `.` and `..`.
    static func names(in directory: FilePath) -> [String] {
        guard let dir = opendir(directory.string) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != ".", name != ".." { names.append(name) }
        }
        return names
    }

    /// Checks one file; `visit` sees each intact record of a segment (header and frame).
    public static func check(_ path: FilePath, visit: (RecordHeader, UnsafeRawBufferPointer) -> Void = { _, _ in })
        -> FileReport
    {
        var bytes: [UInt8] = []
        let name = path.lastComponent?.string ?? path.string
        var report = FileReport(name: name, bytes: 0)
        let result: Result<SegmentScan, SegmentProblem>
        do {
            result = try SegmentScanner.recover(path, contents: &bytes, truncatingTornTail: false)
        } catch {
            report.problem = "\(error)"
            return report
        }
        report.bytes = bytes.count
        switch result {
        case .failure(let problem):
            report.problem = problem.description
        case .success(let scan):
            report.records = scan.records.count
            report.corrupt = scan.corrupt
            report.tornBytes = scan.tornBytes
            guard name != LedgerFile.name else {
                report.undecodable = bytes.withUnsafeBytes { all in
                    scan.records.filter {
                        LedgerEntry.decode(UnsafeRawBufferPointer(rebasing: all[$0.offset..<$0.offset + $0.length]))
                            == nil
                    }.count
                }
                return report
            }
            bytes.withUnsafeBytes { all in
                for record in scan.records {
                    let payload = UnsafeRawBufferPointer(rebasing: all[record.offset..<record.offset + record.length])
                    guard let (header, frameOffset) = RecordHeader.decode(payload) else {
                        report.undecodable += 1; continue
                    }
                    switch header.kind {
                    case .batch:
                        report.batches += 1
                        report.readings += header.readings
                    case .dictionary:
                        report.dictionaries += 1
                    }
                    visit(header, UnsafeRawBufferPointer(rebasing: payload[frameOffset...]))
                }
            }
        }
        return report
    }
}
