import TramYAML

/// A place in a config file.
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var mark: SourceMark

    public init(file: String, mark: SourceMark) {
        self.file = file
        self.mark = mark
    }

    public var description: String { "\(file):\(mark.line):\(mark.column)" }

    /// For values built in code rather than read from a file.
    public static let unknown = SourceLocation(file: "<code>", mark: SourceMark(line: 0, column: 0))
}

/// One problem found in a config, phrased for the person who has to fix it.
public struct Diagnostic: Sendable, Hashable, CustomStringConvertible {
    public enum Severity: String, Sendable, Hashable {
        case error
        case warning
    }

    public var severity: Severity
    public var location: SourceLocation
    public var message: String

    public init(_ severity: Severity, at location: SourceLocation, _ message: String) {
        self.severity = severity
        self.location = location
        self.message = message
    }

    /// `file:line:column: error: message`, the form editors and compilers use.
    public var description: String { "\(location): \(severity.rawValue): \(message)" }
}

/// Collects every problem in one pass, so a technician fixes a file once, not once per error.
public final class DiagnosticLog {
    public private(set) var diagnostics: [Diagnostic] = []

    public init() {}

    public var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }

    public func error(_ message: String, at location: SourceLocation) {
        diagnostics.append(Diagnostic(.error, at: location, message))
    }

    public func warning(_ message: String, at location: SourceLocation) {
        diagnostics.append(Diagnostic(.warning, at: location, message))
    }

    /// Diagnostics in file order, then line and column; stable for equal places.
    public var sorted: [Diagnostic] {
        diagnostics.enumerated().sorted { a, b in
            let (la, lb) = (a.element.location, b.element.location)
            if la.file != lb.file { return la.file < lb.file }
            if la.mark != lb.mark { return la.mark < lb.mark }
            return a.offset < b.offset
        }.map(\.element)
    }
}
