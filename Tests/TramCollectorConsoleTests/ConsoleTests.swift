import Testing

@testable import TramCollectorConsole

@Suite struct ConsoleTests {}
