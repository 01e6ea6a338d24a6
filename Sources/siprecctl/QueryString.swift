/// A URL query built from name/value pairs in order. Names and values are percent-encoded
/// (RFC 3986: everything but the unreserved characters), so `+`, `&`, `=`, `#`, spaces and
/// non-ASCII text reach the server as typed.
struct QueryString: Sendable, Equatable {
    private(set) var items: [Item] = []

    struct Item: Sendable, Equatable {
        var name: String
        var value: String
    }

    init() {}

    init(_ pairs: [(String, String?)]) {
        for (name, value) in pairs { add(name, value) }
    }

    /// Adds a pair; nil values are left out, so optional filters can be passed as they are.
    mutating func add(_ name: String, _ value: String?) {
        guard let value else { return }
        items.append(Item(name: name, value: value))
    }

    mutating func add(_ name: String, _ value: Int?) {
        add(name, value.map { String($0) })
    }

    var isEmpty: Bool { items.isEmpty }

    /// `a=1&b=x%20y`, without the leading "?" (empty when there are no items).
    var encoded: String {
        items.map { Self.percentEncode($0.name) + "=" + Self.percentEncode($0.value) }.joined(separator: "&")
    }

    /// Percent-encodes every byte of the UTF-8 text except `A-Z a-z 0-9 - . _ ~`. Also right
    /// for one path segment (an id that holds a "/" stays one segment).
    static func percentEncode(_ text: String) -> String {
        var output = ""
        output.reserveCapacity(text.utf8.count)
        let hex = Array("0123456789ABCDEF".unicodeScalars)
        for byte in text.utf8 {
            if isUnreserved(byte) {
                output.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                output.unicodeScalars.append("%")
                output.unicodeScalars.append(hex[Int(byte >> 4)])
                output.unicodeScalars.append(hex[Int(byte & 0x0F)])
            }
        }
        return output
    }

    private static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }
}
