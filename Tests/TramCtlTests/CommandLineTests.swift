import Testing
import TramConfig
@testable import TramCtl
import TramModbus

/// One vocabulary across the verbs: the agent file as `--config` (as tram-agent takes it) or positionally, the
/// agent's socket as `--socket` (`--agent-socket` still accepted).
@Suite("tramctl command line")
struct CommandLineTests {
    @Test(
        "plan and poll take the agent file as --config or as an argument",
        arguments: [
            ["--config", "agent.yaml"], ["agent.yaml"], ["--config", "agent.yaml", "agent.yaml"],
        ])
    func configForms(_ arguments: [String]) throws {
        #expect(try PlanCommand.parse(arguments).agentFile.config == "agent.yaml")
        #expect(try PollCommand.parse(arguments).agentFile.config == "agent.yaml")
    }

    @Test("no agent file, or two different ones, is refused")
    func configRefused() {
        #expect(throws: (any Error).self) { try PlanCommand.parse([]) }
        #expect(throws: (any Error).self) { try PollCommand.parse(["--config", "a.yaml", "b.yaml"]) }
    }

    @Test("read and scan name the socket --socket, and still accept --agent-socket")
    func socketNames() throws {
        let read = ["--unit", "1", "--table", "holding", "--address", "0", "--count", "1"]
        #expect(
            try ReadCommand.parse(["--link", "rtu:///dev/ttyUSB0", "--socket", "/tmp/a.sock"] + read).target.agentSocket
                == "/tmp/a.sock")
        #expect(
            try ScanCommand.parse(["--link", "rtu:///dev/ttyUSB0", "--agent-socket", "/tmp/b.sock"]).target.agentSocket
                == "/tmp/b.sock")
        #expect(
            try ReadCommand.parse(["--link", "tcp://127.0.0.1:502"] + read).target.agentSocket
                == AgentClient.defaultSocket)
        #expect(!ReadCommand.helpMessage().contains("agent-socket"))
    }
}

@Suite("tramctl values")
struct ValueOutputTests {
    static let int64 = Point(name: "counter", table: .holding, address: 0, type: .int64)
    static let uint64 = Point(name: "total", table: .holding, address: 0, type: .uint64)

    @Test(
        "an integer point with no scale shows its exact integer, past 2^53 too",
        arguments: [
            (RawValue.int(-9_007_199_254_740_993), "-9007199254740993"),
            (RawValue.int(.min), "-9223372036854775808"),
            (RawValue.uint(.max), "18446744073709551615"),
            (RawValue.uint(9_007_199_254_740_993), "9007199254740993"),
        ])
    func exactText(_ raw: RawValue, _ text: String) throws {
        let point = if case .int = raw { Self.int64 } else { Self.uint64 }
        #expect(Output.engineering(raw, point: point, exponent: 0) == text)
        #expect(Output.json(try #require(Output.EngineeringJSON(raw, point: point, exponent: 0))) == text)
    }

    @Test("a scaled integer point is still an engineering number")
    func scaled() throws {
        var point = Self.int64
        point.scale = 0.1
        #expect(Output.engineering(.int(473), point: point, exponent: 0) == "47.3")
        #expect(Output.json(try #require(Output.EngineeringJSON(.int(473), point: point, exponent: 0))) == "47.3")
        #expect(Output.engineering(.int(17822), point: Self.int64, exponent: -1) == "1782.2")
    }
}
