import TramSchema

/// Newest batches kept in RAM while the disk refuses writes. Bounded in bytes: when full,
/// the oldest batch in the ring is given up (and counted) to make room for the newest.
/// Dictionaries are never given up: batches after them need them, and they are small.
struct DiskFullRing {
    struct Entry {
        var header: RecordHeader
        var frame: [UInt8]
    }

    private(set) var entries: [Entry] = []
    private var head = 0
    private(set) var bytes = 0

    var isEmpty: Bool { head == entries.count }
    var first: Entry? { isEmpty ? nil : entries[head] }
    var pending: ArraySlice<Entry> { entries[head...] }

    /// Adds an entry and returns those evicted to keep within `capacity`.
    mutating func push(_ entry: Entry, capacity: Int) -> [Entry] {
        entries.append(entry)
        bytes += entry.frame.count
        var evicted: [Entry] = []
        while bytes > capacity,
            let oldest = entries[head..<entries.count - 1].firstIndex(where: { $0.header.kind == .batch })
        {
            evicted.append(entries[oldest])
            bytes -= entries[oldest].frame.count
            if oldest == head { head += 1 } else { entries.remove(at: oldest) }
        }
        compact()
        return evicted
    }

    mutating func removeFirst() {
        bytes -= entries[head].frame.count
        head += 1
        compact()
    }

    private mutating func compact() {
        if head > 64 && head * 2 > entries.count {
            entries.removeFirst(head)
            head = 0
        }
        if head == entries.count {
            entries.removeAll(keepingCapacity: true)
            head = 0
        }
    }
}

/// A place in the spool: a record's offset in a segment (0 means the segment's first record).
struct Position: Comparable, Hashable {
    var segmentID: UInt64
    var offset: Int

    static func < (a: Position, b: Position) -> Bool { (a.segmentID, a.offset) < (b.segmentID, b.offset) }
}

/// One sink's replay state. Only `acknowledged` (kept in the spool, and in the ledger) is durable;
/// after a restart replay starts again from the oldest segment and skips what was acknowledged.
struct SinkState {
    /// The next backlog record to consider; the backlog ends where live records begin.
    var backlog: Position
    /// Records at or after this place were appended during this run: live data.
    let liveStart: Position
    var live: Position
    var inFlight: [BatchIdentity: Position] = [:]
    /// Released after a failed upload; sent again before anything else.
    var retry: [Position] = []
    var liveTurn = true

    init(start: Position, liveStart: Position) {
        backlog = start
        self.liveStart = liveStart
        live = liveStart
    }
}
