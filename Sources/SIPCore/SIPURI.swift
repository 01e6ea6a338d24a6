/// A SIP or SIPS URI (RFC 3261 §19.1), or any other absolute URI kept opaque (tel:, urn:...).
/// Parameters and headers are kept in order and verbatim, so vendor parameters such as
/// CUCM's `;x-nearend;x-refci=…` survive a parse/serialize round trip.
public struct SIPURI: Hashable, Sendable, CustomStringConvertible {
    public var scheme: String
    public var user: String?
    public var password: String?
    /// Host as written; an IPv6 reference keeps its brackets (`[2001:db8::1]`).
    public var host: String
    public var port: Int?
    public var parameters: [SIPParameter]
    /// The `?`-part of the URI, verbatim (without the `?`).
    public var headers: String?
    /// For schemes other than sip/sips: everything after `scheme:`.
    public var opaque: String?

    public init(scheme: String = "sip", user: String? = nil, password: String? = nil, host: String,
                port: Int? = nil, parameters: [SIPParameter] = [], headers: String? = nil) {
        self.scheme = scheme
        self.user = user
        self.password = password
        self.host = host
        self.port = port
        self.parameters = parameters
        self.headers = headers
        self.opaque = nil
    }

    public var isSIP: Bool { opaque == nil }

    /// Host without IPv6 brackets, for socket addresses.
    public var hostWithoutBrackets: String {
        if host.hasPrefix("["), host.hasSuffix("]") { return String(host.dropFirst().dropLast()) }
        return host
    }

    public func parameter(_ name: String) -> String?? { parameters.parameter(name) }

    public var description: String {
        if let opaque { return "\(scheme):\(opaque)" }
        var out = scheme + ":"
        if let user {
            out += user
            if let password { out += ":" + password }
            out += "@"
        }
        out += host
        if let port { out += ":\(port)" }
        out += parameters.serialized()
        if let headers { out += "?" + headers }
        return out
    }

    public enum ParseError: Error, Sendable { case invalid }

    public init(parsing text: some StringProtocol) throws(ParseError) {
        self = try SIPBytes.withBytes(text) { (bytes) throws(ParseError) in try SIPURI(bytes: bytes, range: 0..<bytes.count) }
    }

    /// Splits `host[:port]`, accepting IPv6 references in brackets.
    public static func splitHostPort(_ text: Substring) throws(ParseError) -> (String, Int?) {
        let parsed = SIPBytes.withBytes(text) { bytes in SIPBytes.hostPort(bytes, 0..<bytes.count) }
        guard let parsed else { throw .invalid }
        return parsed
    }

    static func isSchemeByte(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || ((byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x7A)
            || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
    }

    static func isHostByte(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || ((byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x7A)
            || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_")
    }
}
