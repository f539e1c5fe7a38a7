/// A subcommand's `--flag value` arguments, read in order; a missing or malformed value ends the run with a message.
struct FlagReader {
    /// The subcommand, for messages (`collector: --points takes a number`).
    let command: String
    let usage: String
    private var rest: ArraySlice<String>

    init(command: String, usage: String, arguments: ArraySlice<String>) {
        self.command = command
        self.usage = usage
        rest = arguments
    }

    /// The next flag, nil after the last one.
    mutating func next() -> String? { rest.popFirst() }

    /// The value after `flag`.
    mutating func value(_ flag: String) -> String {
        guard let next = rest.popFirst() else { fail("\(command): \(flag) needs a value\n\(usage)") }
        return next
    }

    /// The value after `flag`, as a number (`_` allowed as a digit separator).
    mutating func number<T: LosslessStringConvertible>(_ flag: String) -> T {
        let text = value(flag)
        guard let number = T(text.filter { $0 != "_" }) else {
            fail("\(command): \(flag) takes a number, not '\(text)'")
        }
        return number
    }
}
