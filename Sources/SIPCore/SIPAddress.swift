/// A name-addr or addr-spec with header parameters, as in From, To, Contact, Route and
/// Record-Route (RFC 3261 §20.10, §25.1).
public struct SIPAddress: Hashable, Sendable, CustomStringConvertible {
    /// Display name, unquoted and unescaped.
    public var displayName: String?
    public var uri: SIPURI
    /// Header parameters (after the URI), such as `tag`.
    public var parameters: [SIPParameter]
    /// `Contact: *`.
    public var isWildcard: Bool

    public init(displayName: String? = nil, uri: SIPURI, parameters: [SIPParameter] = []) {
        self.displayName = displayName
        self.uri = uri
        self.parameters = parameters
        self.isWildcard = false
    }

    public var tag: String? {
        get { parameters.parameter("tag") ?? nil }
        set { if let newValue { parameters.set("tag", newValue) } else { parameters.removeAll { $0.name.caseInsensitiveEquals("tag") } } }
    }

    public var description: String {
        if isWildcard { return "*" }
        var out = ""
        if let displayName {
            out += "\"" + SIPAddress.escapeQuoted(displayName) + "\" "
        }
        out += "<" + uri.description + ">"
        out += parameters.serialized()
        return out
    }

    public enum ParseError: Error, Sendable { case invalid }

    public init(parsing text: some StringProtocol) throws(ParseError) {
        let text = Substring(text).trimmingSIPWhitespace()
        guard !text.isEmpty else { throw .invalid }
        displayName = nil
        parameters = []
        isWildcard = false
        if text == "*" {
            isWildcard = true
            uri = SIPURI(host: "*")
            return
        }
        let utf8 = text.utf8
        var index = utf8.startIndex
        // Display name: a quoted string, or tokens up to '<'.
        var display: String?
        if utf8[index] == UInt8(ascii: "\"") {
            var value: [UInt8] = []
            index = utf8.index(after: index)
            var closed = false
            while index != utf8.endIndex {
                let byte = utf8[index]
                if byte == UInt8(ascii: "\\") {
                    index = utf8.index(after: index)
                    guard index != utf8.endIndex else { break }
                    value.append(utf8[index])
                } else if byte == UInt8(ascii: "\"") {
                    closed = true
                    index = utf8.index(after: index)
                    break
                } else {
                    value.append(byte)
                }
                index = utf8.index(after: index)
            }
            guard closed else { throw .invalid }
            display = String(decoding: value, as: UTF8.self)
            while index != utf8.endIndex, utf8[index] == 0x20 || utf8[index] == 0x09 { index = utf8.index(after: index) }
            guard index != utf8.endIndex, utf8[index] == UInt8(ascii: "<") else { throw .invalid }
        }
        if let open = utf8[index...].firstIndex(of: UInt8(ascii: "<")) {
            if display == nil {
                let name = Substring(utf8[index..<open]).trimmingSIPWhitespace()
                if !name.isEmpty { display = String(name) }
            }
            guard let close = utf8[open...].firstIndex(of: UInt8(ascii: ">")) else { throw .invalid }
            do {
                uri = try SIPURI(parsing: Substring(utf8[utf8.index(after: open)..<close]))
            } catch {
                throw .invalid
            }
            let rest = Substring(utf8[utf8.index(after: close)...]).trimmingSIPWhitespace()
            if !rest.isEmpty {
                guard rest.utf8.first == UInt8(ascii: ";") else { throw .invalid }
                parameters = [SIPParameter].parse(rest)
            }
        } else {
            // addr-spec: parameters after the URI belong to the header (RFC 3261 §20.10).
            let spec = Substring(utf8[index...])
            var uriText = spec
            if let semi = spec.utf8.firstIndex(of: UInt8(ascii: ";")) {
                uriText = Substring(spec.utf8[spec.utf8.startIndex..<semi])
                parameters = [SIPParameter].parse(Substring(spec.utf8[spec.utf8.index(after: semi)...]))
            }
            do {
                uri = try SIPURI(parsing: uriText)
            } catch {
                throw .invalid
            }
        }
        displayName = display
    }

    static func escapeQuoted(_ text: String) -> String {
        var out = ""
        for character in text {
            if character == "\"" || character == "\\" { out.append("\\") }
            out.append(character)
        }
        return out
    }
}
