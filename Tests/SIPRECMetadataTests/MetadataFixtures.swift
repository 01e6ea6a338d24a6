import Foundation
import SIPTestSupport

/// Everything these tests know about where fixtures live and how a SIP message file is laid out.
///
/// The fixtures are `sip-fixtures/siprec/<vendor>/` in the main repository: CRLF-exact SIP
/// messages and an `expected.json` per vendor (`Fixtures.root` finds the folder).
enum MetadataFixtures {
    struct Missing: Error, CustomStringConvertible {
        var description: String
    }

    static let root: URL = Fixtures.root

    static let siprec = root.appendingPathComponent("siprec")

    /// Vendor folders present on disk, sorted.
    static func vendorFolders() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: siprec.path)) ?? []
        return names.filter { name in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: siprec.appendingPathComponent(name).path, isDirectory: &isDirectory)
                && isDirectory.boolValue
        }.sorted()
    }

    static func bytes(_ vendor: String, _ file: String) throws -> [UInt8] {
        let url = siprec.appendingPathComponent(vendor).appendingPathComponent(file)
        guard let data = FileManager.default.contents(atPath: url.path) else { throw Missing(description: "no fixture \(vendor)/\(file)") }
        return [UInt8](data)
    }

    static func message(_ vendor: String, _ file: String) throws -> FixtureMessage {
        try FixtureMessage(bytes: bytes(vendor, file))
    }

    static func expected(_ vendor: String) throws -> JSONValue {
        let data = Data(try bytes(vendor, "expected.json"))
        return try JSONDecoder().decode(JSONValue.self, from: data)
    }
}

/// A SIP request file split into its header fields and body; multipart bodies split into parts.
struct FixtureMessage {
    struct Part {
        var headers: [(name: String, value: String)]
        var body: [UInt8]

        func header(_ name: String) -> String? { FixtureMessage.lookup(name, in: headers) }
        var mediaType: String {
            (header("Content-Type") ?? "text/plain").split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        }
    }

    var startLine: String
    var headers: [(name: String, value: String)]
    var body: [UInt8]

    init(bytes: [UInt8]) throws {
        let crlfcrlf: [UInt8] = [13, 10, 13, 10]
        guard let split = FixtureMessage.find(crlfcrlf, in: bytes, from: 0) else {
            throw MetadataFixtures.Missing(description: "no end of header section")
        }
        let lines = String(decoding: bytes[..<split], as: UTF8.self).components(separatedBy: "\r\n")
        startLine = lines.first ?? ""
        headers = FixtureMessage.headerFields(lines.dropFirst())
        body = Array(bytes[(split + 4)...])
    }

    func header(_ name: String) -> String? { FixtureMessage.lookup(name, in: headers) }

    func headers(named name: String) -> [String] {
        headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
    }

    /// The body as parts: the multipart parts, or the whole body as one part.
    var parts: [Part] {
        let contentType = header("Content-Type") ?? ""
        guard contentType.lowercased().hasPrefix("multipart/"), let boundary = FixtureMessage.boundary(in: contentType) else {
            return body.isEmpty ? [] : [Part(headers: [("Content-Type", contentType)], body: body)]
        }
        return FixtureMessage.splitMultipart(body, boundary: boundary)
    }

    /// The recording metadata document (`application/rs-metadata+xml` or `application/rs-metadata`).
    var metadata: [UInt8]? {
        parts.first { $0.mediaType.hasPrefix("application/rs-metadata") }?.body
    }

    /// The text of an `application/gtd` part, if any.
    var gtd: String? {
        parts.first { $0.mediaType == "application/gtd" }.map { String(decoding: $0.body, as: UTF8.self) }
    }

    /// The parameters inside the From header's URI (`<sip:user@host;a;b=c>`), as a URI parser would give them.
    var fromURIParameters: [(name: String, value: String?)] {
        guard let from = header("From"), let open = from.firstIndex(of: "<"),
              let close = from[open...].firstIndex(of: ">") else { return [] }
        return from[from.index(after: open)..<close].split(separator: ";").dropFirst().map { parameter in
            let pair = parameter.split(separator: "=", maxSplits: 1)
            return (String(pair[0]), pair.count == 2 ? String(pair[1]) : nil)
        }
    }

    // MARK: - Small helpers (test-only; the server has its own SIP and multipart parsers)

    static func lookup(_ name: String, in headers: [(name: String, value: String)]) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    static func headerFields(_ lines: some Sequence<String>) -> [(name: String, value: String)] {
        lines.compactMap { line in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]).trimmingCharacters(in: .whitespaces),
                    String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces))
        }
    }

    static func boundary(in contentType: String) -> String? {
        for parameter in contentType.split(separator: ";").dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1)
            if pair.count == 2, pair[0].trimmingCharacters(in: .whitespaces).lowercased() == "boundary" {
                return pair[1].trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            }
        }
        return nil
    }

    /// Splits on delimiter lines only (part Content-Length is ignored); a missing close delimiter
    /// lets the last part run to the end; part headers end at the first empty line (CRLF or LF).
    static func splitMultipart(_ body: [UInt8], boundary: String) -> [Part] {
        let delimiter = Array("--\(boundary)".utf8)
        var starts: [(line: Int, after: Int, close: Bool)] = []
        var index = 0
        while let found = find(delimiter, in: body, from: index) {
            index = found + delimiter.count
            guard found == 0 || body[found - 1] == 10 else { continue }
            let close = index + 1 < body.count && body[index] == 45 && body[index + 1] == 45
            starts.append((found, index, close))
            if close { break }
        }
        var parts: [Part] = []
        for (position, start) in starts.enumerated() where !start.close {
            var begin = start.after
            while begin < body.count, body[begin] != 10 { begin += 1 }
            begin += 1
            var end = position + 1 < starts.count ? starts[position + 1].line : body.count
            if end > begin, body[end - 1] == 10 { end -= 1 }
            if end > begin, body[end - 1] == 13 { end -= 1 }
            guard begin <= end else { continue }
            let content = Array(body[begin..<end])
            let headerEnd = find([13, 10, 13, 10], in: content, from: 0).map { ($0, $0 + 4) }
                ?? find([10, 10], in: content, from: 0).map { ($0, $0 + 2) }
                ?? (content.starts(with: [13, 10]) ? (0, 2) : (0, 0))
            let headerText = String(decoding: content[..<headerEnd.0], as: UTF8.self)
            let lines = headerText.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
                .map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "\r")) }
            parts.append(Part(headers: headerFields(lines), body: Array(content[headerEnd.1...])))
        }
        return parts
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count, start <= haystack.count - needle.count else { return nil }
        var index = start
        while index <= haystack.count - needle.count {
            if haystack[index] == needle[0] && Array(haystack[index..<(index + needle.count)]) == needle { return index }
            index += 1
        }
        return nil
    }
}

/// expected.json as a value tree (Sendable, so it can be used from parameterised tests).
enum JSONValue: Decodable, Sendable, Equatable {
    case null, bool(Bool), number(Double), string(String), array([JSONValue]), object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([JSONValue].self) { self = .array(value) }
        else { self = .object(try container.decode([String: JSONValue].self)) }
    }

    subscript(key: String) -> JSONValue? {
        if case .object(let object) = self { return object[key] }
        return nil
    }

    var string: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    var array: [JSONValue] {
        if case .array(let value) = self { return value }
        return []
    }

    var object: [String: JSONValue] {
        if case .object(let value) = self { return value }
        return [:]
    }

    var strings: [String] { array.compactMap(\.string) }

    var isNull: Bool { self == .null }

    /// Scalars as the text `VendorIdentifiers.extra` holds (`true`, `42`, `abc`); nil for null.
    var scalarText: String? {
        switch self {
        case .string(let value): return value
        case .bool(let value): return value ? "true" : "false"
        case .number(let value): return value == value.rounded() ? String(Int(value)) : String(value)
        default: return nil
        }
    }
}
