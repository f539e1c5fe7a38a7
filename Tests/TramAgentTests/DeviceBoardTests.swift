import Testing
import TramConfig
@testable import TramAgent
import TramModbus

/// The board behind `tramctl status`, `top` and `tail`: latest cycles always, the tail ring only while someone tails.
@Suite struct DeviceBoardTests {
    static let devices = ["meter-1", "meter-2"].map {
        DeviceConfig(
            name: $0, link: "bus", unit: 1, points: [Point(name: "v", table: .holding, address: 0, type: .uint16)])
    }

    static func cycle(_ device: String) -> DeviceReading {
        AgentMetricsFixtures.deviceCycle(device, points: 1, state: .online)
    }

    @Test func cyclesReachTheTailOnlyAfterSomeoneAsks() {
        let board = DeviceBoard(devices: Self.devices, capacity: 4)
        board.record(Self.cycle("meter-1"), latencyMilliseconds: 1, nowMilliseconds: 0)
        // Nobody was tailing: the cycle updated the latest values but went into no ring.
        let first = board.cycles(after: 0, nowMilliseconds: 10)
        #expect(first.cycles.isEmpty)
        #expect(first.next == 1)
        #expect(board.entries.first { $0.device.name == "meter-1" }?.latest?.device == "meter-1")

        board.record(Self.cycle("meter-2"), latencyMilliseconds: 1, nowMilliseconds: 20)
        board.record(Self.cycle("meter-1"), latencyMilliseconds: 1, nowMilliseconds: 30)
        let second = board.cycles(after: first.next, nowMilliseconds: 40)
        #expect(second.cycles.map(\.reading.device) == ["meter-2", "meter-1"])
        #expect(second.cycles.map(\.number) == [2, 3])
        #expect(second.missed == 0)
    }

    @Test func aSlowTailIsToldHowManyCyclesItMissed() {
        let board = DeviceBoard(devices: Self.devices, capacity: 4)
        let start = board.cycles(after: 0, nowMilliseconds: 0)
        for step in 1...6 { board.record(Self.cycle("meter-1"), latencyMilliseconds: 1, nowMilliseconds: Int64(step)) }
        let late = board.cycles(after: start.next, nowMilliseconds: 10)
        #expect(late.cycles.map(\.number) == [3, 4, 5, 6])
        #expect(late.missed == 2)
    }

    @Test func theRingIsLetGoWhenTheTailStops() {
        let board = DeviceBoard(devices: Self.devices, capacity: 4)
        let start = board.cycles(after: 0, nowMilliseconds: 0)
        board.record(Self.cycle("meter-1"), latencyMilliseconds: 1, nowMilliseconds: 5)
        // No request for longer than the tail window: the next cycle empties the ring instead of filling it.
        board.record(
            Self.cycle("meter-2"), latencyMilliseconds: 1, nowMilliseconds: DeviceBoard.tailWindowMilliseconds + 1)
        let after = board.cycles(after: start.next, nowMilliseconds: DeviceBoard.tailWindowMilliseconds + 2)
        #expect(after.cycles.isEmpty)
        #expect(after.next == 2)
        #expect(board.entries.first { $0.device.name == "meter-2" }?.cycles == 1)
    }
}
