/// JSON kept as the server wrote it: member order, number spelling and string escapes are
/// preserved (only whitespace changes), so `--json` shows the server's document as it is,
/// pretty-printed. Also joins the `items` of several pages into one list (`list --all`).
indirect enum JSONText: Sendable, Equatable {
    struct Member: Sendable, Equatable {
        /// The key's literal with its quotes and escapes.
        var rawKey: String
        var value: JSONText
    }

    case object([Member])
    case array([JSONText])
    /// A string literal (quotes included), number, true, false or null, as written.
    case scalar(String)

    struct SyntaxError: Error, Sendable, Equatable {
        var offset: Int
        var reason: String
    }

    static let maximumDepth = 512

    // MARK: - Parsing

    static func parse(_ bytes: some Collection<UInt8>) throws(SyntaxError) -> JSONText {
        var parser = Parser(bytes: Array(bytes))
        parser.skipWhitespace()
        let value = try parser.value(depth: 0)
        parser.skipWhitespace()
        guard parser.position == parser.bytes.count else {
            throw SyntaxError(offset: parser.position, reason: "data after the JSON value")
        }
        return value
    }

    private struct Parser {
        let bytes: [UInt8]
        var position = 0

        mutating func skipWhitespace() {
            while position < bytes.count {
                switch bytes[position] {
                case 0x20, 0x09, 0x0A, 0x0D: position += 1
                default: return
                }
            }
        }

        func fail(_ reason: String) -> SyntaxError {
            SyntaxError(offset: position, reason: reason)
        }

        mutating func value(depth: Int) throws(SyntaxError) -> JSONText {
            guard depth < JSONText.maximumDepth else { throw fail("nested too deeply") }
            guard position < bytes.count else { throw fail("unexpected end") }
            switch bytes[position] {
            case UInt8(ascii: "{"): return try object(depth: depth)
            case UInt8(ascii: "["): return try array(depth: depth)
            case UInt8(ascii: "\""): return .scalar(try stringLiteral())
            default: return .scalar(try literal())
            }
        }

        mutating func object(depth: Int) throws(SyntaxError) -> JSONText {
            position += 1
            var members: [Member] = []
            skipWhitespace()
            if position < bytes.count, bytes[position] == UInt8(ascii: "}") {
                position += 1
                return .object(members)
            }
            while true {
                skipWhitespace()
                guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else { throw fail("expected a key") }
                let key = try stringLiteral()
                skipWhitespace()
                guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else { throw fail("expected ':'") }
                position += 1
                skipWhitespace()
                members.append(Member(rawKey: key, value: try value(depth: depth + 1)))
                skipWhitespace()
                guard position < bytes.count else { throw fail("unexpected end in an object") }
                if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
                if bytes[position] == UInt8(ascii: "}") { position += 1; return .object(members) }
                throw fail("expected ',' or '}'")
            }
        }

        mutating func array(depth: Int) throws(SyntaxError) -> JSONText {
            position += 1
            var elements: [JSONText] = []
            skipWhitespace()
            if position < bytes.count, bytes[position] == UInt8(ascii: "]") {
                position += 1
                return .array(elements)
            }
            while true {
                skipWhitespace()
                elements.append(try value(depth: depth + 1))
                skipWhitespace()
                guard position < bytes.count else { throw fail("unexpected end in an array") }
                if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
                if bytes[position] == UInt8(ascii: "]") { position += 1; return .array(elements) }
                throw fail("expected ',' or ']'")
            }
        }

        /// The literal from its opening quote to its closing quote, escapes untouched.
        mutating func stringLiteral() throws(SyntaxError) -> String {
            let start = position
            position += 1
            while position < bytes.count {
                let byte = bytes[position]
                if byte == UInt8(ascii: "\\") {
                    position += 2
                    continue
                }
                if byte < 0x20 { throw fail("control character in a string") }
                position += 1
                if byte == UInt8(ascii: "\"") {
                    return String(decoding: bytes[start..<position], as: UTF8.self)
                }
            }
            throw fail("unterminated string")
        }

        mutating func literal() throws(SyntaxError) -> String {
            let start = position
            while position < bytes.count, Self.isLiteralByte(bytes[position]) { position += 1 }
            let text = String(decoding: bytes[start..<position], as: UTF8.self)
            guard Self.isValidLiteral(text) else {
                position = start
                throw fail(text.isEmpty ? "unexpected character" : "invalid literal \(text)")
            }
            return text
        }

        static func isLiteralByte(_ byte: UInt8) -> Bool {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "."):
                return true
            default:
                return false
            }
        }

        /// true, false, null, or a number in JSON's grammar.
        static func isValidLiteral(_ text: String) -> Bool {
            if text == "true" || text == "false" || text == "null" { return true }
            var scalars = Substring(text).unicodeScalars[...]
            func digits() -> Int {
                var count = 0
                while let first = scalars.first, ("0"..."9").contains(first) { scalars.removeFirst(); count += 1 }
                return count
            }
            if scalars.first == "-" { scalars.removeFirst() }
            if scalars.first == "0" {
                scalars.removeFirst()
            } else if digits() == 0 {
                return false
            }
            if scalars.first == "." {
                scalars.removeFirst()
                if digits() == 0 { return false }
            }
            if scalars.first == "e" || scalars.first == "E" {
                scalars.removeFirst()
                if scalars.first == "+" || scalars.first == "-" { scalars.removeFirst() }
                if digits() == 0 { return false }
            }
            return scalars.isEmpty
        }
    }

    // MARK: - Printing

    /// Two-space indentation, `"key": value`, empty containers as `{}` / `[]`.
    func pretty() -> String {
        var output = ""
        write(to: &output, indent: 0)
        return output
    }

    private func write(to output: inout String, indent: Int) {
        switch self {
        case .scalar(let text):
            output += text
        case .array(let elements):
            guard !elements.isEmpty else { output += "[]"; return }
            output += "[\n"
            for (index, element) in elements.enumerated() {
                output += String(repeating: "  ", count: indent + 1)
                element.write(to: &output, indent: indent + 1)
                output += index == elements.count - 1 ? "\n" : ",\n"
            }
            output += String(repeating: "  ", count: indent) + "]"
        case .object(let members):
            guard !members.isEmpty else { output += "{}"; return }
            output += "{\n"
            for (index, member) in members.enumerated() {
                output += String(repeating: "  ", count: indent + 1) + member.rawKey + ": "
                member.value.write(to: &output, indent: indent + 1)
                output += index == members.count - 1 ? "\n" : ",\n"
            }
            output += String(repeating: "  ", count: indent) + "}"
        }
    }

    /// The body pretty-printed; a body that is not JSON comes back as text, unchanged.
    static func prettyOrRaw(_ bytes: some Collection<UInt8>) -> String {
        if let document = try? parse(bytes) { return document.pretty() }
        return String(decoding: Array(bytes), as: UTF8.self)
    }

    // MARK: - Pages

    /// The member named `key` of an object (keys compared as written, so plain ASCII keys).
    func member(_ key: String) -> JSONText? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.rawKey == "\"\(key)\"" }?.value
    }

    /// `{"items":[all items of all pages in order],"nextCursor":null}`.
    static func joiningItems(of pages: [JSONText]) -> JSONText {
        var items: [JSONText] = []
        for page in pages {
            if case .array(let elements)? = page.member("items") { items += elements }
        }
        return .object([
            Member(rawKey: "\"items\"", value: .array(items)),
            Member(rawKey: "\"nextCursor\"", value: .scalar("null")),
        ])
    }
}
