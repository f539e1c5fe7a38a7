import CAllocationCounter
import Logging
import Testing
import TramConfig
@testable import TramModbus
import TramSimulator
import TramThreads

/// One device's poll cycles as the agent runs them: on a thread of their own, against Tram's simulator on loopback.
@Suite("DevicePoller cycles")
struct DevicePollerCycleTests {
    struct Cycle: Sendable {
        var allocations: UInt64
        var allGood: Bool
        var timestamps: [UInt64] = []
        /// The cycle before, as a reader holding it saw it before and after this cycle ran.
        var previousBefore: [UInt64] = []
        var previousAfter: [UInt64] = []
    }

    /// The status board keeps each device's latest cycle until the next one arrives. Holding it must cost the next
    /// cycle nothing: no copy of the readings or the request outcomes. A debug build allocates in its unspecialised
    /// loops, the same number every cycle, so the test compares cycles whose predecessor is held with cycles whose
    /// predecessor was let go; an optimised build allocates nothing in either.
    @Test("holding the previous cycle, as the status board does, costs the next cycle no allocation and no change")
    func heldCyclesCostNothing() async throws {
        let points = AcquisitionEngineTests.points
        let port = await startSimulator(devices: [SimulatedDevice(unit: 1, points: points)!])
        let (released, held) = await OwnedThread.offload(name: "test-poll") { () -> ([Cycle], [Cycle]) in
            var logger = Logger(label: "test")
            logger.logLevel = .critical
            let link = LinkConfig(
                name: "sim", endpoint: .tcp(host: "127.0.0.1", port: port), responseTimeout: .milliseconds(500))
            let session = LinkSession(link: link, logger: logger)
            let poller = DevicePoller(
                device: DeviceConfig(name: "d1", link: "sim", unit: 1, points: points), logger: logger)
            // Warm-up: the first cycle connects; the first two give the poller's arrays their own storage.
            for _ in 0..<3 { _ = poller.poll(on: session) }
            var released: [Cycle] = [], held: [Cycle] = []
            released.reserveCapacity(10)
            held.reserveCapacity(10)
            for _ in 0..<10 {
                let before = tram_allocations_on_this_thread()
                let reading = poller.poll(on: session)
                let allocations = tram_allocations_on_this_thread() - before
                released.append(
                    Cycle(allocations: allocations, allGood: reading.points.allSatisfy { $0.quality == .good }))
            }
            var previous = poller.poll(on: session)
            for _ in 0..<10 {
                let previousBefore = previous.points.map(\.timestamp.monotonicNanoseconds)
                let before = tram_allocations_on_this_thread()
                let reading = poller.poll(on: session)
                let allocations = tram_allocations_on_this_thread() - before
                held.append(
                    Cycle(
                        allocations: allocations, allGood: reading.points.allSatisfy { $0.quality == .good },
                        timestamps: reading.points.map(\.timestamp.monotonicNanoseconds),
                        previousBefore: previousBefore,
                        previousAfter: previous.points.map(\.timestamp.monotonicNanoseconds)))
                previous = reading
            }
            return (released, held)
        }
        let releasedAllocations = Set(released.map(\.allocations))
        #expect(
            releasedAllocations.count == 1, "cycles with nothing held allocate alike: \(released.map(\.allocations))")
        #expect(held.map(\.allocations) == released.map(\.allocations), "holding the cycle before costs allocations")
        #if !DEBUG
        #expect(releasedAllocations == [0], "an optimised build's poll cycle allocates: \(released.map(\.allocations))")
        #endif
        #expect((released + held).allSatisfy { $0.allGood }, "every point good in every cycle")
        for (i, cycle) in held.enumerated() {
            #expect(cycle.previousAfter == cycle.previousBefore, "cycle \(i) changed the cycle before under its reader")
            #expect(
                zip(cycle.timestamps, cycle.previousBefore).allSatisfy { $0 > $1 }, "cycle \(i) did not read afresh")
        }
    }
}
