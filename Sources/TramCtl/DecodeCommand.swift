import ArgumentParser
import TramCompression
import TramConfigFiles
import TramModbus
import TramSchema

/// `tramctl decode`: print the readings in a file of Tram frames (a spool segment's payloads, a capture of an upload).
struct DecodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode",
        abstract: "Decode a file of Tram wire frames (dictionaries and batches) and print the readings.",
        discussion:
            "Frames follow one another; dictionaries must come before the batches that use them. Compressed frames are decompressed."
    )

    @Argument(help: "File holding one or more frames.")
    var file: String

    @Flag(help: "Print one JSON object per reading.")
    var json = false

    @Flag(help: "List each dictionary's points: type, unit, scale, kind (gauge or counter) and poll interval.")
    var points = false

    func run() throws {
        guard let bytes = FileConfigSource().contents(of: file) else { throw ValidationError("cannot read \(file)") }
        var printer = FramePrinter(json: json)
        printer.listsPoints = points
        var offset = 0
        while offset < bytes.count {
            let decoded: (frame: FrameDecoder.Decoded, size: Int)
            do {
                // Copy only this frame (its envelope gives its size), not the rest of the file each time.
                let size = try bytes.withUnsafeBytes { raw throws(WireError) in
                    try Frame.open(UnsafeRawBufferPointer(rebasing: raw[offset...])).size
                }
                decoded = try FrameCodec.decode(
                    Array(bytes[offset..<offset + size]), dictionary: { printer.dictionaries[$0] })
            } catch {
                print("error: \(file) at byte \(offset): \(error)", to: &standardError)
                throw ExitCode(1)
            }
            printer.print(decoded.frame)
            offset += decoded.size
        }
        if !json { print("\(printer.frames) frames, \(printer.readings) readings") }
    }
}

/// Prints decoded frames as `tramctl decode` and `tramctl spool dump --decode` show them.
struct FramePrinter {
    let json: Bool
    /// Whether a dictionary's points are listed under it (text output only).
    var listsPoints = false
    var dictionaries: [UInt64: SchemaDictionary] = [:]
    var frames = 0
    var readings = 0

    init(json: Bool) { self.json = json }

    mutating func print(_ frame: FrameDecoder.Decoded) {
        frames += 1
        switch frame {
        case .dictionary(let dictionary, let id):
            dictionaries[id] = dictionary
            if !json {
                Swift.print(DictionaryDescription.summary(dictionary, id: id))
                if listsPoints {
                    for (alias, point) in dictionary.points.enumerated() {
                        Swift.print(DictionaryDescription.point(point, alias: alias))
                    }
                }
            }
        case .batch(let batch):
            guard let dictionary = dictionaries[batch.schemaID] else {
                Swift.print(
                    "batch gateway \(batch.gateway) epoch \(batch.epoch) sequence \(batch.sequence): schema 0x\(String(batch.schemaID, radix: 16)) has no dictionary here",
                    to: &standardError)
                return
            }
            if !json {
                var line =
                    "batch gateway \(batch.gateway) epoch \(batch.epoch) sequence \(batch.sequence): \(batch.groups.count) groups"
                if batch.version > 1 {
                    let snapshots = batch.groups.filter(\.snapshot).count
                    line += ", wire format \(batch.version)"
                    if snapshots > 0 {
                        line += snapshots == 1 ? ", 1 snapshot group" : ", \(snapshots) snapshot groups"
                    }
                    if !batch.droppedSequences.isEmpty {
                        let ranges = batch.droppedSequences.map {
                            $0.count == 1 ? "\($0.lowerBound)" : "\($0.lowerBound)-\($0.upperBound - 1)"
                        }
                        line += "; the gateway dropped sequences \(ranges.joined(separator: ", ")) undelivered"
                    }
                }
                Swift.print(line)
            }
            for group in batch.groups {
                for (index, value) in group.values.enumerated() {
                    let point = dictionary.points[group.alias(at: index)]
                    readings += 1
                    let text = Self.describe(value)
                    // Unscaled points show their raw value (a float32's own digits, not its double expansion).
                    let scaled = point.scale != 1 || point.offset != 0 || point.exponentAlias != nil
                    let engineering =
                        scaled
                        ? Self.engineering(value, point: point, group: group).map { Output.NumberJSON(value: $0) } : nil
                    if json {
                        let scaled =
                            engineering.map { Output.json($0) }
                            ?? (scaled || text.quality != "good" ? "null" : text.json)
                        Swift.print(
                            #"{"ts":\#(group.timeMilliseconds),"device":"\#(point.device)","point":"\#(point.name)","raw":\#(text.json),"value":\#(scaled),"unit":"\#(point.unit)","quality":"\#(text.quality)"}"#
                        )
                    } else {
                        let shown =
                            engineering.map { "\(Output.json($0)) \(point.unit)  (raw \(text.human))" }
                            ?? "\(text.human) \(point.unit)"
                        Swift.print(
                            "  \(group.timeMilliseconds)  \(point.device)/\(point.name)  \(shown)\(text.quality == "good" ? "" : "  [\(text.quality)]")"
                        )
                    }
                }
            }
        }
    }

    /// The engineering value, by the same rule the agent side uses (``Engineering/value(_:scale:offset:exponent:)``);
    /// nil for bools, strings, missing values, and points whose exponent is not in the group.
    static func engineering(_ value: WireValue, point: PointDescriptor, group: DecodedGroup) -> Double? {
        let raw: RawValue
        switch value {
        case .int(let v): raw = .int(v)
        case .uint(let v): raw = .uint(v)
        case .float32(let bits): raw = .float32(Float(bitPattern: bits))
        case .float64(let bits): raw = .float64(Double(bitPattern: bits))
        default: return nil
        }
        var exponent = 0
        if let alias = point.exponentAlias {
            guard let index = group.offset(of: alias), case .int(let e) = group.values[index],
                (-300...300).contains(e)
            else { return nil }
            exponent = Int(e)
        }
        return Engineering.value(raw, scale: point.scale, offset: point.offset, exponent: exponent)
    }

    static func describe(_ value: WireValue) -> (human: String, json: String, quality: String) {
        switch value {
        case .bool(let b): return ("\(b)", "\(b)", "good")
        case .int(let v): return ("\(v)", "\(v)", "good")
        case .uint(let v): return ("\(v)", "\(v)", "good")
        case .float32(let bits):
            let f = Float(bitPattern: bits)
            return ("\(f)", f.isFinite ? "\(f)" : "\"\(f)\"", "good")
        case .float64(let bits):
            let d = Double(bitPattern: bits)
            return ("\(d)", d.isFinite ? "\(d)" : "\"\(d)\"", "good")
        case .string(let s):
            let escaped = s.unicodeScalars.map {
                $0 == "\"" || $0 == "\\"
                    ? "\\\($0)"
                    : ($0.value < 0x20
                        ? "\\u00" + (($0.value < 16 ? "0" : "") + String($0.value, radix: 16)) : String($0))
            }.joined()
            return ("\"\(s)\"", "\"\(escaped)\"", "good")
        case .missing(let quality):
            // The wire format's names (not_available, link_down, …), as the read API has them; an exception keeps
            // its code: exception(2).
            if case .exception(let code) = quality { return ("-", "null", "exception(\(code))") }
            return ("-", "null", WireQuality.name(code: Int(quality.code)))
        }
    }
}
