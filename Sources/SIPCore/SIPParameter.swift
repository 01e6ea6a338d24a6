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
    public static func parse(_ text: Substring) -> [SIPParameter] {
        SIPBytes.withBytes(text) { bytes in
            var start = 0
            while start < bytes.count, SIPBytes.isWhitespace(bytes[start]) { start += 1 }
            if start < bytes.count, bytes[start] == UInt8(ascii: ";") { start += 1 }
            return SIPBytes.parameters(bytes, start..<bytes.count)
        }
    }
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
