/// A `;name[=value]` parameter of a URI or a header. The name is kept as written and
/// compared case-insensitively; the value is kept verbatim (quotes included).
public struct SIPParameter: Hashable, Sendable {
    public var name: String
    public var value: String?

    public init(_ name: String, _ value: String? = nil) {
        self.name = name
        self.value = value
    }
}

extension Array where Element == SIPParameter {
    /// The value of the first parameter named `name` (case-insensitive). A parameter present
    /// without a value yields `.some(nil)`; an absent one yields `nil`.
    public func parameter(_ name: String) -> String?? {
        for parameter in self where parameter.name.caseInsensitiveEquals(name) {
            return .some(parameter.value)
        }
        return nil
    }

    public func has(_ name: String) -> Bool {
        contains { $0.name.caseInsensitiveEquals(name) }
    }

    public mutating func set(_ name: String, _ value: String?) {
        if let index = firstIndex(where: { $0.name.caseInsensitiveEquals(name) }) {
            self[index].value = value
        } else {
            append(SIPParameter(name, value))
        }
    }

    func serialized() -> String {
        var out = ""
        for parameter in self {
            out += ";"
            out += parameter.name
            if let value = parameter.value {
                out += "="
                out += value
            }
        }
        return out
    }

    /// Parses `;a=b;c;d="x;y"` (leading semicolon optional). Quoted values may contain `;`.
    static func parse(_ text: Substring) -> [SIPParameter] {
        var result: [SIPParameter] = []
        for piece in splitOutsideQuotes(text, separator: UInt8(ascii: ";")) {
            let trimmed = piece.trimmingSIPWhitespace()
            if trimmed.isEmpty { continue }
            if let eq = trimmed.utf8.firstIndex(of: UInt8(ascii: "=")) {
                let name = Substring(trimmed.utf8[trimmed.utf8.startIndex..<eq]).trimmingSIPWhitespace()
                let value = Substring(trimmed.utf8[trimmed.utf8.index(after: eq)...]).trimmingSIPWhitespace()
                result.append(SIPParameter(String(name), String(value)))
            } else {
                result.append(SIPParameter(String(trimmed), nil))
            }
        }
        return result
    }
}

/// Splits on `separator` outside double-quoted strings.
func splitOutsideQuotes(_ text: Substring, separator: UInt8) -> [Substring] {
    var parts: [Substring] = []
    var inQuotes = false
    var escaped = false
    let utf8 = text.utf8
    var start = utf8.startIndex
    var index = start
    while index != utf8.endIndex {
        let byte = utf8[index]
        if escaped {
            escaped = false
        } else if inQuotes {
            if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") { inQuotes = false }
        } else if byte == UInt8(ascii: "\"") {
            inQuotes = true
        } else if byte == separator {
            parts.append(Substring(utf8[start..<index]))
            start = utf8.index(after: index)
        }
        index = utf8.index(after: index)
    }
    parts.append(Substring(utf8[start..<utf8.endIndex]))
    return parts
}

extension StringProtocol {
    func caseInsensitiveEquals<Other: StringProtocol>(_ other: Other) -> Bool {
        let a = utf8, b = other.utf8
        guard a.count == b.count else { return false }
        for (x, y) in zip(a, b) where x != y {
            let lx = (x >= 65 && x <= 90) ? x | 0x20 : x
            let ly = (y >= 65 && y <= 90) ? y | 0x20 : y
            if lx != ly { return false }
        }
        return true
    }
}
