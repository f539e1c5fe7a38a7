import Testing
import TramTestSupport
import TramConfig
import TramModbus

/// A random device: points over a few tables, some SunSpec-style scale registers, random limits.
private struct RandomDevice {
    var points: [Point]
    var limits: RequestLimits

    static func make(_ random: inout SeededRandom) -> RandomDevice {
        let limits = RequestLimits(
            maxRegisters: Int.random(in: 2...125, using: &random),
            maxBits: [1, 2, 8, 16, 100, 2000].randomElement(using: &random)!,
            evenCount: Bool.random(using: &random),
            maxGap: Int.random(in: 0...20, using: &random),
            pause: .zero)
        let widest = limits.evenCount ? limits.maxRegisters & ~1 : limits.maxRegisters
        let count = Int.random(in: 1...40, using: &random)
        let span = [20, 80, 300, 2000].randomElement(using: &random)!
        let base = Bool.random(using: &random) ? 0 : 65535 - span
        var points: [Point] = []
        var scaleRegisters: [Int] = []
        for i in 0..<count {
            let table = [RegisterTable.holding, .holding, .input, .coil, .discreteInput].randomElement(using: &random)!
            let name = "p\(i)"
            if table.holdsBits {
                points.append(
                    Point(
                        name: name, table: table, address: base + Int.random(in: 0...span, using: &random), type: .bool)
                )
                continue
            }
            var types: [ValueType] = [
                .int16, .uint16, .bit(Int.random(in: 0...15, using: &random)), .int32, .float32, .int64, .float64,
                .string(registers: Int.random(in: 1...10, using: &random)),
            ]
            types = types.filter { $0.registerCount <= widest }
            let type = types.randomElement(using: &random)!
            let address = base + Int.random(in: 0...(span - type.registerCount + 1), using: &random)
            var point = Point(name: name, table: table, address: address, type: type)
            if type == .int16, Int.random(in: 0..<3, using: &random) == 0 {
                scaleRegisters.append(points.count)
            } else if type.isInteger || type.isFloat, let sf = scaleRegisters.randomElement(using: &random),
                Bool.random(using: &random)
            {
                // A value with its scale register: usually near it, so the pair fits one request.
                let scale = points[sf]
                point.scaleFrom = scale.name
                point.table = Int.random(in: 0..<10, using: &random) == 0 ? point.table : scale.table
                let near = scale.address + Int.random(in: -8...8, using: &random)
                point.address = min(max(near, 0), 65536 - point.width)
            }
            points.append(point)
        }
        return RandomDevice(points: points, limits: limits)
    }

    /// Every atom can be read by one request (otherwise no plan respects the limits, and the loader rejects the device).
    var isReadable: Bool {
        RequestPlanner.atoms(of: points).allSatisfy {
            Self.minimumCount(first: $0.first, last: $0.last, table: $0.table, limits: limits) != nil
        }
    }

    /// The smallest valid request count covering `first...last`, or nil if no request may cover it.
    static func minimumCount(first: Int, last: Int, table: RegisterTable, limits: RequestLimits) -> Int? {
        var count = last - first + 1
        if table.holdsBits { return count <= limits.maxBits ? count : nil }
        if limits.evenCount, count % 2 == 1 { count += 1 }
        return count <= limits.maxRegisters ? count : nil
    }
}

/// Whether consecutive atoms `atoms[i...j]` can share one request: written from the limits' definitions,
/// independently of the planner's own check.
private func feasible(_ atoms: ArraySlice<Run>, limits: RequestLimits) -> Bool {
    guard let first = atoms.first, let last = atoms.last, atoms.allSatisfy({ $0.table == first.table }) else {
        return false
    }
    var previous = first
    for atom in atoms.dropFirst() {
        if atom.first - previous.last - 1 > limits.maxGap { return false }
        previous = atom
    }
    return RandomDevice.minimumCount(first: first.first, last: last.last, table: first.table, limits: limits) != nil
}

/// The fewest requests any partition of the sorted atoms into consecutive runs needs: exhaustive dynamic programming.
private func optimalRequestCount(_ atoms: [Run], limits: RequestLimits) -> Int {
    var best = [Int](repeating: .max, count: atoms.count + 1)
    best[0] = 0
    for end in 1...max(1, atoms.count) where end <= atoms.count {
        for start in 0..<end where best[start] != .max && feasible(atoms[start..<end], limits: limits) {
            best[end] = min(best[end], best[start] + 1)
        }
    }
    return best[atoms.count]
}

/// An atom as these tests see it.
private struct Run: Equatable, CustomStringConvertible {
    var table: RegisterTable
    var first: Int
    var last: Int
    var points: [Int]

    init(table: RegisterTable, first: Int, last: Int, points: [Int]) {
        (self.table, self.first, self.last, self.points) = (table, first, last, points)
    }

    init(_ atom: RequestPlanner.Atom) {
        self.init(table: atom.table, first: atom.first, last: atom.last, points: atom.points.sorted())
    }

    var description: String { "\(table.rawValue) \(first)...\(last) \(points)" }
}

/// Points that must be read in one request, worked out here from their definition: a value with its
/// scale register (same table), and points whose ranges overlap (a status word and its bits). Sorted by table and address.
private func expectedAtoms(_ points: [Point]) -> [Run] {
    var parent = Array(points.indices)
    func root(_ i: Int) -> Int { parent[i] == i ? i : root(parent[i]) }
    let indexByName = Dictionary(
        points.enumerated().map { ($0.element.name, $0.offset) }, uniquingKeysWith: { a, _ in a })
    for (i, point) in points.enumerated() {
        if let name = point.scaleFrom, let j = indexByName[name], points[j].table == point.table {
            parent[root(i)] = root(j)
        }
    }
    var groups: [Int: [Int]] = [:]
    for i in points.indices { groups[root(i), default: []].append(i) }
    let hulls = groups.values.map { members in
        Run(
            table: points[members[0]].table, first: members.map { points[$0].address }.min()!,
            last: members.map { points[$0].lastAddress }.max()!, points: members)
    }.sorted { ($0.table, $0.first) < ($1.table, $1.first) }
    var atoms: [Run] = []
    for hull in hulls {
        if var last = atoms.last, last.table == hull.table, hull.first <= last.last {
            last.last = max(last.last, hull.last)
            last.points += hull.points
            atoms[atoms.count - 1] = last
        } else {
            atoms.append(hull)
        }
    }
    return atoms.map {
        var a = $0; a.points.sort(); return a
    }
}

/// Checks one plan against the points and limits; returns what is wrong.
private func problems(_ plan: [ReadRequest], points: [Point], limits: RequestLimits) -> [String] {
    var found: [String] = []
    let atoms = expectedAtoms(points)
    let planned = plan.flatMap(\.points)
    if planned.sorted() != Array(points.indices) {
        found.append("points planned \(planned.sorted()) ≠ all \(points.count) once each")
    }
    for request in plan {
        let description = "\(request) \(request.points)"
        if request.address < 0 || request.lastAddress > 0xFFFF {
            found.append("\(description): outside the address space")
        }
        if request.table.holdsBits {
            if request.count > limits.maxBits { found.append("\(description): more than max_bits \(limits.maxBits)") }
        } else {
            if request.count > limits.maxRegisters {
                found.append("\(description): more than max_registers \(limits.maxRegisters)")
            }
            if limits.evenCount, request.count % 2 != 0 { found.append("\(description): odd count under even_count") }
        }
        for index in request.points {
            let point = points[index]
            if point.table != request.table { found.append("\(description): mixes \(point.table) point \(point.name)") }
            if point.address < request.address || point.lastAddress > request.lastAddress {
                found.append("\(description): does not cover \(point.name) \(point.address)...\(point.lastAddress)")
            }
        }
        // Read-through gaps: between the atoms a request reads, no run of unused registers wider than max_gap.
        // (Inside an atom there may be more: a value and its scale register are read together whatever lies between.)
        let inRequest = atoms.filter { !Set($0.points).isDisjoint(with: request.points) }
        for atom in inRequest where !Set(atom.points).isSubset(of: request.points) {
            found.append("\(description): reads part of the atom \(atom.points)")
        }
        for (a, b) in zip(inRequest, inRequest.dropFirst()) where b.first - a.last - 1 > limits.maxGap {
            found.append(
                "\(description): gap \(b.first - a.last - 1) > max_gap \(limits.maxGap) between \(a.points) and \(b.points)"
            )
        }
    }
    // A value and its scale register travel together.
    let requestOf = Dictionary(
        uniqueKeysWithValues: plan.enumerated().flatMap { r in r.element.points.map { ($0, r.offset) } })
    let indexByName = Dictionary(uniqueKeysWithValues: points.enumerated().map { ($0.element.name, $0.offset) })
    for (i, point) in points.enumerated() {
        guard let name = point.scaleFrom, let j = indexByName[name], points[j].table == point.table else { continue }
        if requestOf[i] != requestOf[j] {
            found.append("\(point.name) and its scale_from \(name) in different requests")
        }
    }
    return found
}

/// A plan in terms of names, independent of point order.
private func named(_ plan: [ReadRequest], _ points: [Point]) -> [String] {
    plan.map { "\($0) \($0.points.map { points[$0].name }.sorted())" }
}

@Suite("RequestPlanner")
struct RequestPlannerTests {
    @Test("300 random devices: valid plans with the optimal request count, independent of input order")
    func randomDevices() {
        var random = SeededRandom(seed: 20_251_125)
        var devices = 0, attempts = 0, requests = 0, greedyWins = 0
        while devices < 300 {
            attempts += 1
            precondition(attempts < 10_000, "generator makes too few readable devices")
            let device = RandomDevice.make(&random)
            guard device.isReadable else { continue }
            devices += 1
            let (points, limits) = (device.points, device.limits)
            let plan = RequestPlanner.plan(points, limits: limits)
            let atoms = RequestPlanner.atoms(of: points).map(Run.init)

            // The planner's atoms are the ones their definition gives.
            let expected = expectedAtoms(points)
            #expect(atoms == expected, "device \(devices): atoms")

            let issues = problems(plan, points: points, limits: limits)
            #expect(issues.isEmpty, "device \(devices) limits \(limits): \(issues.prefix(5))")

            let optimum = optimalRequestCount(atoms, limits: limits)
            #expect(
                plan.count == optimum, "device \(devices): \(plan.count) requests, optimum \(optimum); limits \(limits)"
            )
            requests += plan.count
            if atoms.count > plan.count { greedyWins += 1 }

            // Shuffled input: the same requests, reading the same points.
            var shuffled = points
            shuffled.shuffle(using: &random)
            let replanned = RequestPlanner.plan(shuffled, limits: limits)
            #expect(named(replanned, shuffled) == named(plan, points), "device \(devices): plan depends on input order")

            // Splitting any request (to isolate a rejected point) covers the same points, each half valid on its own.
            for request in plan {
                let halves = RequestPlanner.split(request, points: points, limits: limits)
                #expect(halves.flatMap(\.points).sorted() == request.points.sorted())
                let atomsInRequest = atoms.filter { !Set($0.points).isDisjoint(with: request.points) }.count
                #expect(halves.count == (atomsInRequest > 1 ? 2 : 1))
                let halfIssues = problems(halves, points: points, limits: limits).filter {
                    !$0.hasPrefix("points planned")
                }
                #expect(halfIssues.isEmpty, "split of \(request): \(halfIssues)")
                if halves.count == 2 {
                    // The halves read disjoint points in address order (an even-count pad may reach into the other half).
                    let lastOfFirst = halves[0].points.map { points[$0].lastAddress }.max()!
                    let firstOfSecond = halves[1].points.map { points[$0].address }.min()!
                    #expect(lastOfFirst < firstOfSecond, "halves overlap: \(halves)")
                }
            }
        }
        // The generator must exercise packing: many plans join several atoms in one request.
        #expect(greedyWins > 100, "only \(greedyWins) of 300 plans merged atoms; \(requests) requests in all")
    }

    @Test("scale_from partners share a request even when that costs one")
    func scaleFromGroups() {
        // Without grouping, W (100) and its W_SF (104) would be split at max_registers 4.
        let points = [
            Point(name: "A", table: .holding, address: 98, type: .uint16),
            Point(name: "B", table: .holding, address: 99, type: .uint16),
            Point(name: "W", table: .holding, address: 100, type: .int16, scaleFrom: "W_SF"),
            Point(name: "W_SF", table: .holding, address: 104, type: .int16),
        ]
        let limits = RequestLimits(maxRegisters: 5, maxBits: 2000, evenCount: false, maxGap: 10, pause: .zero)
        let plan = RequestPlanner.plan(points, limits: limits)
        #expect(named(plan, points) == ["FC03 holding 98+2 [\"A\", \"B\"]", "FC03 holding 100+5 [\"W\", \"W_SF\"]"])
    }

    @Test("a scale register in another table does not group (the loader rejects that config)")
    func scaleFromOtherTable() {
        let points = [
            Point(name: "W", table: .holding, address: 0, type: .int16, scaleFrom: "W_SF"),
            Point(name: "W_SF", table: .input, address: 0, type: .int16),
        ]
        let plan = RequestPlanner.plan(points, limits: .default)
        #expect(plan.map(\.description) == ["FC03 holding 0+1", "FC04 input 0+1"])
    }

    @Test("even_count pads after the range, or before it at the top of the address space")
    func evenPadding() {
        let limits = RequestLimits(maxRegisters: 80, maxBits: 2000, evenCount: true, maxGap: 10, pause: .zero)
        let plan = RequestPlanner.plan(
            [
                Point(name: "a", table: .input, address: 0, type: .uint16),
                Point(name: "b", table: .input, address: 65535, type: .uint16),
                Point(name: "c", table: .coil, address: 7, type: .bool),
            ], limits: limits)
        #expect(plan.map(\.description) == ["FC01 coil 7+1", "FC04 input 0+2", "FC04 input 65534+2"])
    }

    @Test("excluded points are not planned")
    func excluded() {
        let points = (0..<6).map { Point(name: "p\($0)", table: .holding, address: $0 * 2, type: .float32) }
        let plan = RequestPlanner.plan(points, limits: .default, excluding: [0, 5])
        #expect(plan.map(\.description) == ["FC03 holding 2+8"])
        #expect(plan.flatMap(\.points) == [1, 2, 3, 4])
    }

    @Test("no points, no requests")
    func empty() {
        #expect(RequestPlanner.plan([], limits: .default).isEmpty)
    }

    @Test("split halves a request by atoms, and leaves a single atom alone")
    func split() {
        let points = [
            Point(name: "status", table: .holding, address: 10, type: .uint16),
            Point(name: "run", table: .holding, address: 10, type: .bit(0)),
            Point(name: "v", table: .holding, address: 12, type: .float32),
            Point(name: "i", table: .holding, address: 14, type: .float32),
            Point(name: "p", table: .holding, address: 20, type: .float32),
        ]
        let plan = RequestPlanner.plan(points, limits: .default)
        #expect(plan.map(\.description) == ["FC03 holding 10+12"])
        let halves = RequestPlanner.split(plan[0], points: points, limits: .default)
        #expect(halves.map(\.description) == ["FC03 holding 10+4", "FC03 holding 14+8"])
        #expect(halves.map { $0.points.map { points[$0].name } } == [["status", "run", "v"], ["i", "p"]])
        let quarters = RequestPlanner.split(halves[0], points: points, limits: .default)
        #expect(quarters.map { $0.points.map { points[$0].name } } == [["status", "run"], ["v"]])
        let single = RequestPlanner.split(quarters[0], points: points, limits: .default)
        #expect(single == [quarters[0]], "the status word and its bit are one atom")
    }
}
