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
        let text = Substring(text).trimmingSIPWhitespace()
        guard let colon = text.utf8.firstIndex(of: UInt8(ascii: ":")) else { throw .invalid }
        let scheme = Substring(text.utf8[text.utf8.startIndex..<colon])
        guard !scheme.isEmpty, scheme.utf8.allSatisfy(SIPURI.isSchemeByte),
              let first = scheme.utf8.first, (first | 0x20) >= 0x61, (first | 0x20) <= 0x7A else { throw .invalid }
        let rest = Substring(text.utf8[text.utf8.index(after: colon)...])
        let lowerScheme = scheme.lowercased()
        self.scheme = lowerScheme
        self.user = nil
        self.password = nil
        self.host = ""
        self.port = nil
        self.parameters = []
        self.headers = nil
        self.opaque = nil
        guard lowerScheme == "sip" || lowerScheme == "sips" else {
            guard !rest.isEmpty, !rest.utf8.contains(where: { $0 <= 0x20 }) else { throw .invalid }
            opaque = String(rest)
            return
        }
        // Split off headers ('?') first, then user info ('@' before the host part), then params.
        var main = rest
        if let question = rest.utf8.firstIndex(of: UInt8(ascii: "?")) {
            headers = String(Substring(rest.utf8[rest.utf8.index(after: question)...]))
            main = Substring(rest.utf8[rest.utf8.startIndex..<question])
        }
        // The user part may contain ';' (user parameters, RFC 3261 §19.1.1) so look for '@' first.
        var hostPart = main
        if let at = main.utf8.firstIndex(of: UInt8(ascii: "@")) {
            let userInfo = Substring(main.utf8[main.utf8.startIndex..<at])
            hostPart = Substring(main.utf8[main.utf8.index(after: at)...])
            if let pwColon = userInfo.utf8.firstIndex(of: UInt8(ascii: ":")) {
                user = String(Substring(userInfo.utf8[userInfo.utf8.startIndex..<pwColon]))
                password = String(Substring(userInfo.utf8[userInfo.utf8.index(after: pwColon)...]))
            } else {
                user = String(userInfo)
            }
            guard let user, !user.isEmpty else { throw .invalid }
        }
        var hostPort = hostPart
        if let semi = hostPart.utf8.firstIndex(of: UInt8(ascii: ";")) {
            hostPort = Substring(hostPart.utf8[hostPart.utf8.startIndex..<semi])
            parameters = [SIPParameter].parse(Substring(hostPart.utf8[hostPart.utf8.index(after: semi)...]))
        }
        let (parsedHost, parsedPort) = try SIPURI.splitHostPort(hostPort)
        host = parsedHost
        port = parsedPort
    }

    /// Splits `host[:port]`, accepting IPv6 references in brackets.
    public static func splitHostPort(_ text: Substring) throws(ParseError) -> (String, Int?) {
        let text = text.trimmingSIPWhitespace()
        guard !text.isEmpty else { throw .invalid }
        if text.utf8.first == UInt8(ascii: "[") {
            guard let close = text.utf8.firstIndex(of: UInt8(ascii: "]")) else { throw .invalid }
            let host = String(Substring(text.utf8[text.utf8.startIndex...close]))
            let after = Substring(text.utf8[text.utf8.index(after: close)...])
            if after.isEmpty { return (host, nil) }
            guard after.utf8.first == UInt8(ascii: ":"), let port = Int(after.dropFirst()), (0...65535).contains(port) else {
                throw .invalid
            }
            return (host, port)
        }
        if let colon = text.utf8.lastIndex(of: UInt8(ascii: ":")) {
            let host = Substring(text.utf8[text.utf8.startIndex..<colon])
            let portText = Substring(text.utf8[text.utf8.index(after: colon)...])
            guard !host.isEmpty, host.utf8.allSatisfy(isHostByte), let port = Int(portText), (0...65535).contains(port) else {
                throw .invalid
            }
            return (String(host), port)
        }
        guard text.utf8.allSatisfy(isHostByte) else { throw .invalid }
        return (String(text), nil)
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
