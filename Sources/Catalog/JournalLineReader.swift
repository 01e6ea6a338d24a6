import Foundation

/// Reads the catalog's fields from a journal line without `JSONDecoder`: a small JSON parser
/// into a tree, then the fields picked by hand. `JSONDecoder` was a fifth of the ingest
/// thread's CPU at 3,500 calls a second, most of it in `Codable`'s keyed containers.
///
/// It is conservative: anything it does not expect (a type it does not read, a number that is
/// not a whole one where an integer belongs, a date it cannot parse) gives nil, and the caller
/// falls back to `JSONDecoder`, which decides. So this only has to agree with the decoder on
/// the lines it accepts (tested on the same lines both ways).
enum JournalLineReader {
    indirect enum Value {
        case null
        case bool(Bool)
        case number(Double)
        case string(String)
        case array([Value])
        case object([String: Value])

        var string: String? { if case .string(let text) = self { return text }; return nil }
        var object: [String: Value]? { if case .object(let fields) = self { return fields }; return nil }
        var array: [Value]? { if case .array(let items) = self { return items }; return nil }
        var isNull: Bool { if case .null = self { return true }; return false }
    }

    /// The record's fields, or nil where the decoder should decide.
    static func entry(_ bytes: UnsafeRawBufferPointer, line: String) -> CatalogEntry? {
        var parser = Parser(bytes: bytes)
        guard let root = parser.document()?.object else { return nil }
        let reader = Fields(root)
        guard let id = reader.required(string: "recordingID"),
              let startedText = reader.required(string: "startedAt"), let startedAt = CatalogDate.parse(startedText),
              let interactionID = reader.optional(string: "interactionID"),
              let segment = reader.optional(integer: "segment"),
              let source = reader.optional(string: "source"),
              let state = reader.optional(string: "state"),
              let tenant = reader.optional(string: "tenant"),
              let endedText = reader.optional(string: "endedAt"),
              let durationSeconds = reader.optional(number: "durationSeconds"),
              let sessionIDs = reader.optional(strings: "sessionIDs"),
              let groupID = reader.optional(string: "groupID"),
              let origin = reader.optional(string: "origin")
        else { return nil }
        var endedAt: Date?
        if let endedText {
            guard let date = CatalogDate.parse(endedText) else { return nil }
            endedAt = date
        }
        var vendorIDs: [String] = []
        func addVendorID(_ value: String?) {
            if let value, !value.isEmpty, !vendorIDs.contains(value) { vendorIDs.append(value) }
        }
        if let ids = root["vendorIDs"], !ids.isNull {
            guard let fields = ids.object else { return nil }
            let ids = Fields(fields)
            for key in ["ucid", "ucidRaw", "ciscoGuid", "extTrackingID", "sessionID"] {
                guard let value = ids.optional(string: key) else { return nil }
                addVendorID(value)
            }
            if let extra = fields["extra"], !extra.isNull {
                guard let extra = extra.object else { return nil }
                for key in extra.keys.sorted() {
                    guard let value = extra[key]?.string else { return nil }
                    addVendorID(value)
                }
            }
        }
        if let leg = root["builtInBridge"], !leg.isNull {
            guard let fields = leg.object else { return nil }
            let leg = Fields(fields)
            for key in ["refci", "farEndRefci", "farEndGUID"] {
                guard let value = leg.optional(string: key) else { return nil }
                addVendorID(value)
            }
        }
        var callIDs: [String] = []
        var srcAddress: String?
        if let dialogs = root["dialogs"], !dialogs.isNull {
            guard let items = dialogs.array else { return nil }
            for (index, item) in items.enumerated() {
                guard let fields = item.object else { return nil }
                let dialog = Fields(fields)
                guard let callID = dialog.required(string: "callID"), let source = dialog.required(string: "source") else { return nil }
                if index == 0, !source.isEmpty { srcAddress = source }
                if !callID.isEmpty, !callIDs.contains(callID) { callIDs.append(callID) }
            }
        }
        var participants: [CatalogEntry.Participant] = []
        if let list = root["participants"], !list.isNull {
            guard let items = list.array else { return nil }
            for item in items {
                guard let fields = item.object else { return nil }
                let participant = Fields(fields)
                guard let aor = participant.optional(string: "aor"), let name = participant.optional(string: "name"),
                      let role = participant.optional(string: "role") else { return nil }
                participants.append(.init(aor: aor, name: name, role: role))
            }
        }
        var files: [CatalogEntry.File] = []
        if let file = root["file"], !file.isNull {
            guard let parsed = self.file(file) else { return nil }
            files.append(parsed)
        }
        if let list = root["files"], !list.isNull {
            guard let items = list.array else { return nil }
            for item in items {
                guard let parsed = self.file(item) else { return nil }
                files.append(parsed)
            }
        }
        var entry = CatalogEntry(
            id: id, interactionID: interactionID ?? id, segment: segment ?? 1, source: source ?? "siprec",
            state: state ?? "active", tenant: tenant ?? CatalogEntry.defaultTenant, startedAt: startedAt, endedAt: endedAt,
            durationSeconds: durationSeconds, srcAddress: srcAddress, callIDs: callIDs, sessionIDs: sessionIDs ?? [],
            groupID: groupID, vendorIDs: vendorIDs, participants: participants, files: files, recordJSON: line)
        entry.origin = origin
        return entry
    }

    private static func file(_ value: Value) -> CatalogEntry.File? {
        guard let fields = value.object else { return nil }
        let file = Fields(fields)
        guard let channel = file.optional(integer: "channel"),
              let format = file.required(string: "format"),
              let sampleRate = file.required(integer: "sampleRate"),
              let channels = file.required(integer: "channels"),
              let roles = file.required(strings: "channelRoles"),
              let location = file.required(string: "location"),
              let path = file.required(string: "path"),
              let bytes = file.required(integer: "bytes"),
              let sha256 = file.optional(string: "sha256"),
              let audioSeconds = file.required(number: "audioSeconds")
        else { return nil }
        return CatalogEntry.File(channel: channel, format: format, sampleRate: sampleRate, channels: channels, channelRoles: roles,
                                 location: location, path: path, bytes: bytes, sha256: sha256, audioSeconds: audioSeconds)
    }

    /// Typed access to an object's fields. `optional` gives `.some(nil)` for a missing or null
    /// field and nil for one of another type; `required` gives nil for missing, null or mistyped.
    struct Fields {
        let fields: [String: Value]
        init(_ fields: [String: Value]) { self.fields = fields }

        func optional(string key: String) -> String?? {
            guard let value = fields[key], !value.isNull else { return .some(nil) }
            guard let text = value.string else { return nil }
            return .some(text)
        }

        func required(string key: String) -> String? { fields[key]?.string }

        func optional(number key: String) -> Double?? {
            guard let value = fields[key], !value.isNull else { return .some(nil) }
            guard case .number(let number) = value else { return nil }
            return .some(number)
        }

        func required(number key: String) -> Double? {
            guard case .number(let number)? = fields[key] else { return nil }
            return number
        }

        func optional(integer key: String) -> Int?? {
            guard let value = fields[key], !value.isNull else { return .some(nil) }
            guard let number = Self.integer(value) else { return nil }
            return .some(number)
        }

        func required(integer key: String) -> Int? { fields[key].flatMap(Self.integer) }

        func optional(strings key: String) -> [String]?? {
            guard let value = fields[key], !value.isNull else { return .some(nil) }
            guard let strings = Self.strings(value) else { return nil }
            return .some(strings)
        }

        func required(strings key: String) -> [String]? { fields[key].flatMap(Self.strings) }

        private static func integer(_ value: Value) -> Int? {
            guard case .number(let number) = value, number == number.rounded(.towardZero), abs(number) < 9.0e15 else { return nil }
            return Int(number)
        }

        private static func strings(_ value: Value) -> [String]? {
            guard let items = value.array else { return nil }
            var strings: [String] = []
            strings.reserveCapacity(items.count)
            for item in items {
                guard let text = item.string else { return nil }
                strings.append(text)
            }
            return strings
        }
    }

    /// RFC 8259 JSON, one document; nil for anything malformed.
    struct Parser {
        let bytes: UnsafeRawBufferPointer
        var index = 0
        var depth = 0

        init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

        mutating func document() -> Value? {
            guard let value = value() else { return nil }
            skipSpace()
            return index == bytes.count ? value : nil
        }

        private mutating func skipSpace() {
            while index < bytes.count {
                switch bytes[index] {
                case 0x20, 0x09, 0x0A, 0x0D: index += 1
                default: return
                }
            }
        }

        /// The fields the catalog reads, at any level (the names under `extra` are kept whole).
        /// Other values are checked and skipped, never built: most of a record (streams,
        /// metadata versions, changes) is not the catalog's.
        static let wanted: Set<String> = [
            "recordingID", "interactionID", "segment", "source", "state", "tenant", "startedAt", "endedAt", "durationSeconds",
            "dialogs", "sessionIDs", "groupID", "vendorIDs", "builtInBridge", "participants", "file", "files", "origin",
            "callID", "ucid", "ucidRaw", "ciscoGuid", "extTrackingID", "sessionID", "extra", "refci", "farEndRefci", "farEndGUID",
            "aor", "name", "role", "channel", "format", "sampleRate", "channels", "channelRoles", "location", "path", "bytes",
            "sha256", "audioSeconds",
        ]

        /// `build` false: the value is checked and skipped (`.null` stands for it).
        private mutating func value(build: Bool = true, keepAll: Bool = false) -> Value? {
            skipSpace()
            guard index < bytes.count else { return nil }
            switch bytes[index] {
            case UInt8(ascii: "{"): return object(build: build, keepAll: keepAll)
            case UInt8(ascii: "["): return array(build: build)
            case UInt8(ascii: "\""):
                if build { return string().map(Value.string) }
                return skipString() ? .null : nil
            case UInt8(ascii: "t"): return literal("true", .bool(true))
            case UInt8(ascii: "f"): return literal("false", .bool(false))
            case UInt8(ascii: "n"): return literal("null", .null)
            default: return number(build: build)
            }
        }

        private mutating func literal(_ text: StaticString, _ value: Value) -> Value? {
            let count = text.utf8CodeUnitCount
            guard index + count <= bytes.count else { return nil }
            for offset in 0..<count where bytes[index + offset] != text.utf8Start[offset] { return nil }
            index += count
            return value
        }

        private mutating func object(build: Bool, keepAll: Bool) -> Value? {
            depth += 1
            defer { depth -= 1 }
            guard depth < 64 else { return nil }
            index += 1
            var fields: [String: Value] = [:]
            skipSpace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                index += 1
                return .object(fields)
            }
            while true {
                skipSpace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\""), let key = string() else { return nil }
                skipSpace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { return nil }
                index += 1
                let keep = build && (keepAll || Self.wanted.contains(key))
                guard let value = value(build: keep, keepAll: key == "extra") else { return nil }
                if keep { fields[key] = value }
                skipSpace()
                guard index < bytes.count else { return nil }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                if bytes[index] == UInt8(ascii: "}") { index += 1; return build ? .object(fields) : .null }
                return nil
            }
        }

        private mutating func array(build: Bool) -> Value? {
            depth += 1
            defer { depth -= 1 }
            guard depth < 64 else { return nil }
            index += 1
            var items: [Value] = []
            skipSpace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                index += 1
                return build ? .array(items) : .null
            }
            while true {
                guard let value = value(build: build) else { return nil }
                if build { items.append(value) }
                skipSpace()
                guard index < bytes.count else { return nil }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                if bytes[index] == UInt8(ascii: "]") { index += 1; return build ? .array(items) : .null }
                return nil
            }
        }

        /// At the opening quote; nil for a string that is not valid JSON (or not valid UTF-8).
        private mutating func string() -> String? {
            index += 1
            let start = index
            // Fast path: no escapes.
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    let text = String(validating: UnsafeRawBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
                    index += 1
                    return text
                }
                if byte == UInt8(ascii: "\\") { break }
                if byte < 0x20 { return nil }
                index += 1
            }
            var scalars: [UInt8] = Array(bytes[start..<index])
            while index < bytes.count {
                let byte = bytes[index]
                index += 1
                switch byte {
                case UInt8(ascii: "\""):
                    return String(validating: scalars, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    guard index < bytes.count else { return nil }
                    let escape = bytes[index]
                    index += 1
                    switch escape {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): scalars.append(escape)
                    case UInt8(ascii: "b"): scalars.append(0x08)
                    case UInt8(ascii: "f"): scalars.append(0x0C)
                    case UInt8(ascii: "n"): scalars.append(0x0A)
                    case UInt8(ascii: "r"): scalars.append(0x0D)
                    case UInt8(ascii: "t"): scalars.append(0x09)
                    case UInt8(ascii: "u"):
                        guard var code = hex4() else { return nil }
                        if (0xD800..<0xDC00).contains(code) {
                            // A high surrogate must be followed by an escaped low one.
                            guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else { return nil }
                            index += 2
                            guard let low = hex4(), (0xDC00..<0xE000).contains(low) else { return nil }
                            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        } else if (0xDC00..<0xE000).contains(code) {
                            return nil
                        }
                        guard let scalar = Unicode.Scalar(code) else { return nil }
                        scalars.append(contentsOf: Array(String(Character(scalar)).utf8))
                    default:
                        return nil
                    }
                default:
                    if byte < 0x20 { return nil }
                    scalars.append(byte)
                }
            }
            return nil
        }

        /// At the opening quote: past the string if it is valid JSON (the line's UTF-8 was
        /// checked as a whole), without making it.
        private mutating func skipString() -> Bool {
            index += 1
            while index < bytes.count {
                let byte = bytes[index]
                index += 1
                switch byte {
                case UInt8(ascii: "\""):
                    return true
                case UInt8(ascii: "\\"):
                    guard index < bytes.count else { return false }
                    let escape = bytes[index]
                    index += 1
                    switch escape {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                         UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                        continue
                    case UInt8(ascii: "u"):
                        guard let code = hex4() else { return false }
                        if (0xD800..<0xDC00).contains(code) {
                            guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else { return false }
                            index += 2
                            guard let low = hex4(), (0xDC00..<0xE000).contains(low) else { return false }
                        } else if (0xDC00..<0xE000).contains(code) {
                            return false
                        }
                    default:
                        return false
                    }
                default:
                    if byte < 0x20 { return false }
                }
            }
            return false
        }

        private mutating func hex4() -> UInt32? {
            guard index + 4 <= bytes.count else { return nil }
            var code: UInt32 = 0
            for _ in 0..<4 {
                let byte = bytes[index]
                index += 1
                let digit: UInt32
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
                default: return nil
                }
                code = code << 4 | digit
            }
            return code
        }

        /// RFC 8259 §6 number grammar, read as a Double.
        private mutating func number(build: Bool) -> Value? {
            let start = index
            if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count else { return nil }
            if bytes[index] == UInt8(ascii: "0") {
                index += 1
            } else {
                guard digits() > 0 else { return nil }
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                index += 1
                guard digits() > 0 else { return nil }
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
                index += 1
                if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
                guard digits() > 0 else { return nil }
            }
            guard build else { return .null }
            let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
            return Double(text).map(Value.number)
        }

        private mutating func digits() -> Int {
            let start = index
            while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") { index += 1 }
            return index - start
        }
    }
}
