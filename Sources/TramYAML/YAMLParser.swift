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
    public static func parse(_ bytes: [UInt8]) throws(YAMLSyntaxError) -> YAMLNode? {
        try checkFlowNesting(bytes)
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else {
            throw YAMLSyntaxError(
                message: "libyaml could not start (out of memory)", mark: SourceMark(line: 1, column: 1))
        }
        defer { yaml_parser_delete(&parser) }

        var document = yaml_document_t()
        let loaded: Int32 = bytes.withUnsafeBufferPointer { buffer in
            // libyaml reads the buffer during yaml_parser_load only.
            yaml_parser_set_input_string(&parser, buffer.baseAddress ?? UnsafePointer(bitPattern: 1), buffer.count)
            return yaml_parser_load(&parser, &document)
        }
        guard loaded == 1 else {
            throw syntaxError(parser)
        }
        defer { yaml_document_delete(&document) }

        guard let root = yaml_document_get_root_node(&document) else { return nil }
        var builder = TreeBuilder(document: &document)
        return try builder.build(root, depth: 0)
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

/// Walks a libyaml document and copies it into Swift values.
private struct TreeBuilder {
    let document: UnsafeMutablePointer<yaml_document_t>
    var nodeCount = 0
    /// The nodes written in the file; every node built beyond these is an alias's copy.
    let ownNodes: Int

    init(document: UnsafeMutablePointer<yaml_document_t>) {
        self.document = document
        ownNodes = document.pointee.nodes.top - document.pointee.nodes.start
    }

    mutating func build(_ node: UnsafeMutablePointer<yaml_node_t>, depth: Int) throws(YAMLSyntaxError) -> YAMLNode {
        let mark = SourceMark(
            line: Int(node.pointee.start_mark.line) + 1, column: Int(node.pointee.start_mark.column) + 1)
        nodeCount += 1
        guard depth <= YAMLParser.maximumDepth else {
            throw YAMLSyntaxError(
                message: "nesting deeper than \(YAMLParser.maximumDepth) levels (a recursive alias?)", mark: mark)
        }
        guard nodeCount <= ownNodes + YAMLParser.maximumNodes else {
            throw YAMLSyntaxError(
                message: "aliases expand the document by more than \(YAMLParser.maximumNodes) nodes (an alias bomb?)",
                mark: mark)
        }
        switch node.pointee.type {
        case YAML_SCALAR_NODE:
            let scalar = node.pointee.data.scalar
            let text =
                scalar.value.map { pointer in
                    String(decoding: UnsafeBufferPointer(start: pointer, count: scalar.length), as: UTF8.self)
                } ?? ""
            return YAMLNode(.scalar(text, quoted: scalar.style != YAML_PLAIN_SCALAR_STYLE), mark: mark)
        case YAML_SEQUENCE_NODE:
            var items: [YAMLNode] = []
            var cursor = node.pointee.data.sequence.items.start
            let top = node.pointee.data.sequence.items.top
            while let item = cursor, item != top {
                items.append(try build(child(item.pointee, mark: mark), depth: depth + 1))
                cursor = item + 1
            }
            return YAMLNode(.sequence(items), mark: mark)
        case YAML_MAPPING_NODE:
            var pairs: [YAMLPair] = []
            var cursor = node.pointee.data.mapping.pairs.start
            let top = node.pointee.data.mapping.pairs.top
            while let pair = cursor, pair != top {
                let key = try build(child(pair.pointee.key, mark: mark), depth: depth + 1)
                let value = try build(child(pair.pointee.value, mark: mark), depth: depth + 1)
                pairs.append(YAMLPair(key: key, value: value))
                cursor = pair + 1
            }
            return YAMLNode(.mapping(pairs), mark: mark)
        default:
            return YAMLNode(.scalar("", quoted: false), mark: mark)
        }
    }

    private func child(_ index: Int32, mark: SourceMark) throws(YAMLSyntaxError) -> UnsafeMutablePointer<yaml_node_t> {
        guard let node = yaml_document_get_node(document, index) else {
            throw YAMLSyntaxError(message: "broken node reference", mark: mark)
        }
        return node
    }
}
