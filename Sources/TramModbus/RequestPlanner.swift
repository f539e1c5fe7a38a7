import TramConfig

/// One read request: a table, a range, and the points it delivers.
public struct ReadRequest: Sendable, Hashable, CustomStringConvertible {
    public var table: RegisterTable
    public var address: Int
    public var count: Int
    /// Indices into the device's point list.
    public var points: [Int]

    public init(table: RegisterTable, address: Int, count: Int, points: [Int]) {
        self.table = table
        self.address = address
        self.count = count
        self.points = points
    }

    public var lastAddress: Int { address + count - 1 }

    /// `FC04 input 0+18`, as the plan and logs show it.
    public var description: String {
        "FC0\(table.functionCode) \(table.rawValue) \(address)+\(count)"
    }
}

/// Turns a device's points into the fewest read requests its limits allow.
///
/// Points that must travel together (a value and its `scale_from` register,
/// bits of one status word) form *atoms*. Atoms are sorted by table and
/// address, and each request takes as many consecutive atoms as fit under
/// `max_registers` (or `max_bits`) without crossing a gap wider than
/// `max_gap`. Because any run of consecutive atoms inside a feasible request
/// is itself feasible, this greedy packing is optimal; the test suite checks it
/// against an exhaustive dynamic program. The result is deterministic: it
/// depends only on the points and limits, never on input order.
public enum RequestPlanner {
    /// A run of registers that one request must read whole.
    public struct Atom: Sendable, Hashable {
        public var table: RegisterTable
        public var first: Int
        public var last: Int
        public var points: [Int]
    }

    public static func plan(_ points: [Point], limits: RequestLimits, excluding excluded: Set<Int> = [])
        -> [ReadRequest]
    {
        let atoms = atoms(of: points, excluding: excluded)
        var requests: [ReadRequest] = []
        var start = 0
        while start < atoms.count {
            var end = start
            while end + 1 < atoms.count, fits(atoms[start...end + 1], limits: limits) { end += 1 }
            requests.append(request(for: atoms[start...end], limits: limits))
            start = end + 1
        }
        return requests
    }

    /// Splits a request's points into two requests by atom, for isolating a point a device rejects.
    public static func split(_ request: ReadRequest, points: [Point], limits: RequestLimits) -> [ReadRequest] {
        let atoms = atoms(of: points, only: Set(request.points))
        guard atoms.count > 1 else { return [request] }
        let middle = atoms.count / 2
        return [
            self.request(for: atoms[..<middle], limits: limits), self.request(for: atoms[middle...], limits: limits),
        ]
    }

    /// Atoms sorted by table, then address.
    public static func atoms(of points: [Point], excluding excluded: Set<Int> = [], only: Set<Int>? = nil) -> [Atom] {
        let included = points.indices.filter { !excluded.contains($0) && (only?.contains($0) ?? true) }
        // Union points with their scale registers so both land in one request.
        var group = Dictionary(uniqueKeysWithValues: included.map { ($0, $0) })
        func root(_ i: Int) -> Int { var i = i; while group[i]! != i { i = group[i]! }; return i }
        let indexByName = Dictionary(included.map { (points[$0].name, $0) }, uniquingKeysWith: { a, _ in a })
        for i in included {
            if let name = points[i].scaleFrom, let j = indexByName[name], points[j].table == points[i].table {
                let (a, b) = (root(i), root(j))
                if a != b { group[max(a, b)] = min(a, b) }
            }
        }
        var byRoot: [Int: Atom] = [:]
        for i in included {
            let point = points[i]
            let r = root(i)
            if var atom = byRoot[r] {
                atom.first = min(atom.first, point.address)
                atom.last = max(atom.last, point.lastAddress)
                atom.points.append(i)
                byRoot[r] = atom
            } else {
                byRoot[r] = Atom(table: point.table, first: point.address, last: point.lastAddress, points: [i])
            }
        }
        // Overlapping atoms (bits of a status word and the word itself) merge.
        let sorted = byRoot.values.sorted {
            ($0.table, $0.first, $0.last, $0.points.min()!) < ($1.table, $1.first, $1.last, $1.points.min()!)
        }
        var merged: [Atom] = []
        for atom in sorted {
            if var last = merged.last, last.table == atom.table, atom.first <= last.last {
                last.last = max(last.last, atom.last)
                last.points += atom.points
                merged[merged.count - 1] = last
            } else {
                merged.append(atom)
            }
        }
        return merged.map { atom in
            var a = atom; a.points.sort { (points[$0].address, $0) < (points[$1].address, $1) }; return a
        }
    }

    /// Whether consecutive atoms can share one request.
    static func fits(_ atoms: ArraySlice<Atom>, limits: RequestLimits) -> Bool {
        let first = atoms.first!, last = atoms.last!
        guard first.table == last.table else { return false }
        for (a, b) in zip(atoms, atoms.dropFirst()) where b.first - a.last - 1 > limits.maxGap { return false }
        return count(first: first.first, last: last.last, table: first.table, limits: limits)
            <= maximum(first.table, limits)
    }

    static func maximum(_ table: RegisterTable, _ limits: RequestLimits) -> Int {
        if table.holdsBits { return limits.maxBits }
        return limits.evenCount ? max(2, limits.maxRegisters & ~1) : limits.maxRegisters
    }

    static func count(first: Int, last: Int, table: RegisterTable, limits: RequestLimits) -> Int {
        let span = last - first + 1
        return !table.holdsBits && limits.evenCount && span % 2 == 1 ? span + 1 : span
    }

    static func request(for atoms: ArraySlice<Atom>, limits: RequestLimits) -> ReadRequest {
        let first = atoms.first!, last = atoms.last!
        let count = count(first: first.first, last: last.last, table: first.table, limits: limits)
        // An even-count pad goes after the range, or before it at the top of the address space.
        let address = first.first + count - 1 > 0xFFFF ? first.first - 1 : first.first
        return ReadRequest(table: first.table, address: address, count: count, points: atoms.flatMap(\.points))
    }
}
