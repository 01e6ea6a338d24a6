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
        self = try SIPBytes.withBytes(text) { (bytes) throws(ParseError) in try SIPAddress(bytes: bytes, range: 0..<bytes.count) }
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
