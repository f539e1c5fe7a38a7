import CYAML

/// A YAML syntax error, at the place libyaml found it.
public struct YAMLSyntaxError: Error, Sendable {
    public var message: String
    public var mark: SourceMark
}

/// Parses YAML text with libyaml into ``YAMLNode`` trees.
///
/// It reads bytes, not files: callers own the I/O. Aliases are expanded, with
/// limits on depth and on the expanded size so that a hostile file (a
/// self-referencing anchor, a "billion laughs" alias bomb) is an error, not a hang.
public enum YAMLParser {
    /// Deepest nesting accepted.
    public static let maximumDepth = 64
    /// Most nodes that aliases may add to a document by expansion: beyond the file's own nodes, which its size bounds.
    /// A limit on the total instead refused a plain agent file of 500 devices × 30 inline points with ranges.
    public static let maximumNodes = 200_000

    /// Parses the first document of `bytes`. An empty stream gives `nil`.
    ///
    /// Built from libyaml's events, not its document API: `yaml_parser_load` holds a C copy of the whole document
    /// next to the Swift tree, 150 MB for a 6.8 MB agent file of 100,000 points (218 MB peak for `--check`).
    public static func parse(_ bytes: [UInt8]) throws(YAMLSyntaxError) -> YAMLNode? {
        try checkFlowNesting(bytes)
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else {
            throw YAMLSyntaxError(
                message: "libyaml could not start (out of memory)", mark: SourceMark(line: 1, column: 1))
        }
        defer { yaml_parser_delete(&parser) }
        return try bytes.withUnsafeBufferPointer { buffer throws(YAMLSyntaxError) -> YAMLNode? in
            // libyaml reads the buffer while it parses, within this closure.
            yaml_parser_set_input_string(&parser, buffer.baseAddress ?? UnsafePointer(bitPattern: 1), buffer.count)
            var builder = EventTreeBuilder()
            while true {
                var event = yaml_event_t()
                guard yaml_parser_parse(&parser, &event) == 1 else { throw syntaxError(parser) }
                defer { yaml_event_delete(&event) }
                switch try builder.take(event) {
                case .more: continue
                case .done(let root): return root
                }
            }
        }
    }

    /// libyaml's scanner does work in proportion to the open flow collections for every token, so a file of
    /// `[[[[…` takes quadratic time (100 000 brackets: half a minute) before the tree builder's depth limit
    /// sees it. Count flow nesting first, skipping quoted text and comments, and stop at the same limit.
    static func checkFlowNesting(_ bytes: [UInt8]) throws(YAMLSyntaxError) {
        var depth = 0, line = 1, column = 0
        var quote: UInt8 = 0, escaped = false, comment = false
        var previous = UInt8(ascii: "\n")
        for byte in bytes {
            defer { previous = byte }
            if byte == UInt8(ascii: "\n") { line += 1; column = 0; comment = false; continue }
            if byte & 0xC0 != 0x80 { column += 1 }
            if comment { continue }
            if quote != 0 {
                if escaped {
                    escaped = false
                } else if quote == UInt8(ascii: "\""), byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == quote {
                    quote = 0
                }
                continue
            }
            switch byte {
            case UInt8(ascii: "#")
            where previous == UInt8(ascii: " ") || previous == UInt8(ascii: "\t") || previous == UInt8(ascii: "\n"):
                comment = true
            case UInt8(ascii: "\""), UInt8(ascii: "'"):
                quote = byte
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                if depth > maximumDepth {
                    throw YAMLSyntaxError(
                        message: "nesting deeper than \(maximumDepth) levels",
                        mark: SourceMark(line: line, column: column))
                }
            case UInt8(ascii: "]"), UInt8(ascii: "}"):
                depth = max(0, depth - 1)
            default:
                break
            }
        }
    }

    private static func syntaxError(_ parser: yaml_parser_t) -> YAMLSyntaxError {
        let problem = parser.problem.map { String(cString: $0) } ?? "invalid YAML"
        let context = parser.context.map { String(cString: $0) }
        let mark = SourceMark(line: Int(parser.problem_mark.line) + 1, column: Int(parser.problem_mark.column) + 1)
        let message = context.map { "\(problem) \($0)" } ?? problem
        return YAMLSyntaxError(message: message, mark: mark)
    }
}

/// Builds the first document's tree from libyaml's events, one open collection per nesting level.
///
/// An alias is the anchored node itself (a Swift value: its storage is shared, not copied), but it counts as the
/// nodes it stands for, since whoever walks the tree walks them all: that is what ``YAMLParser/maximumNodes`` bounds.
private struct EventTreeBuilder {
    enum Step {
        case more
        case done(YAMLNode?)
    }

    private enum Open {
        case sequence(items: [YAMLNode], mark: SourceMark, anchor: String?, nodes: Int)
        case mapping(pairs: [YAMLPair], pendingKey: YAMLNode?, mark: SourceMark, anchor: String?, nodes: Int)

        var anchor: String? {
            switch self {
            case .sequence(_, _, let anchor, _), .mapping(_, _, _, let anchor, _): anchor
            }
        }
    }

    private var stack: [Open] = []
    /// Each anchor's node, and how many nodes it stands for.
    private var anchors: [String: (node: YAMLNode, nodes: Int)] = [:]
    /// Nodes that aliases have added so far.
    private var expanded = 0
    private var root: YAMLNode?

    mutating func take(_ event: yaml_event_t) throws(YAMLSyntaxError) -> Step {
        let mark = SourceMark(line: Int(event.start_mark.line) + 1, column: Int(event.start_mark.column) + 1)
        switch event.type {
        case YAML_SCALAR_EVENT:
            let scalar = event.data.scalar
            let text =
                scalar.value.map { pointer in
                    String(decoding: UnsafeBufferPointer(start: pointer, count: scalar.length), as: UTF8.self)
                } ?? ""
            let node = YAMLNode(.scalar(text, quoted: scalar.style != YAML_PLAIN_SCALAR_STYLE), mark: mark)
            remember(node, nodes: 1, anchor: Self.string(scalar.anchor))
            return try add(node, nodes: 1)
        case YAML_SEQUENCE_START_EVENT:
            try open(.sequence(items: [], mark: mark, anchor: Self.string(event.data.sequence_start.anchor), nodes: 1))
        case YAML_MAPPING_START_EVENT:
            try open(
                .mapping(
                    pairs: [], pendingKey: nil, mark: mark, anchor: Self.string(event.data.mapping_start.anchor),
                    nodes: 1))
        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
            guard let closed = stack.popLast() else { return .more }
            let (node, nodes, anchor): (YAMLNode, Int, String?)
            switch closed {
            case .sequence(let items, let start, let name, let count):
                (node, nodes, anchor) = (YAMLNode(.sequence(items), mark: start), count, name)
            case .mapping(let pairs, _, let start, let name, let count):
                (node, nodes, anchor) = (YAMLNode(.mapping(pairs), mark: start), count, name)
            }
            remember(node, nodes: nodes, anchor: anchor)
            return try add(node, nodes: nodes)
        case YAML_ALIAS_EVENT:
            let name = Self.string(event.data.alias.anchor) ?? ""
            guard let anchored = anchors[name] else {
                let inside = stack.contains { $0.anchor == name }
                throw YAMLSyntaxError(
                    message: inside
                        ? "alias *\(name) is inside the node &\(name) it names (a recursive alias)"
                        : "alias *\(name) names no anchor before it", mark: mark)
            }
            expanded += anchored.nodes
            guard expanded <= YAMLParser.maximumNodes else {
                throw YAMLSyntaxError(
                    message:
                        "aliases expand the document by more than \(YAMLParser.maximumNodes) nodes (an alias bomb?)",
                    mark: mark)
            }
            return try add(anchored.node, nodes: anchored.nodes)
        case YAML_DOCUMENT_END_EVENT, YAML_STREAM_END_EVENT:
            return .done(root)
        default:
            break
        }
        return .more
    }

    private mutating func open(_ collection: Open) throws(YAMLSyntaxError) {
        guard stack.count < YAMLParser.maximumDepth else {
            let mark: SourceMark
            switch collection {
            case .sequence(_, let start, _, _), .mapping(_, _, let start, _, _): mark = start
            }
            throw YAMLSyntaxError(message: "nesting deeper than \(YAMLParser.maximumDepth) levels", mark: mark)
        }
        stack.append(collection)
    }

    private mutating func remember(_ node: YAMLNode, nodes: Int, anchor: String?) {
        if let anchor { anchors[anchor] = (node, nodes) }
    }

    /// Puts a finished node into the collection that is open, or makes it the root.
    private mutating func add(_ node: YAMLNode, nodes: Int) throws(YAMLSyntaxError) -> Step {
        guard let top = stack.indices.last else {
            root = node
            return .more
        }
        switch stack[top] {
        case .sequence(var items, let mark, let anchor, let count):
            stack[top] = .sequence(items: [], mark: mark, anchor: anchor, nodes: 0)  // lets `items` grow in place
            items.append(node)
            stack[top] = .sequence(items: items, mark: mark, anchor: anchor, nodes: count + nodes)
        case .mapping(var pairs, let pendingKey, let mark, let anchor, let count):
            stack[top] = .mapping(pairs: [], pendingKey: nil, mark: mark, anchor: anchor, nodes: 0)
            if let key = pendingKey {
                pairs.append(YAMLPair(key: key, value: node))
                stack[top] = .mapping(pairs: pairs, pendingKey: nil, mark: mark, anchor: anchor, nodes: count + nodes)
            } else {
                stack[top] = .mapping(pairs: pairs, pendingKey: node, mark: mark, anchor: anchor, nodes: count + nodes)
            }
        }
        return .more
    }

    private static func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        pointer.map { String(cString: $0) }
    }
}
