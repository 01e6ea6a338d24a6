/// The parts of a SIP or SIPS URI that RFC 3263 location needs: host, port, transport
/// parameter and scheme. Read from text by a small parser of its own (this module does not
/// depend on SIPCore).
public struct SIPDestination: Hashable, Sendable {
    /// A domain name, or a numeric address (IPv6 without brackets).
    public var host: String
    public var port: UInt16?
    /// The `transport` URI parameter, when given.
    public var transport: SIPTarget.Transport?
    /// A SIPS URI: TLS only (RFC 3263 §4.1).
    public var secure: Bool

    public init(host: String, port: UInt16? = nil, transport: SIPTarget.Transport? = nil, secure: Bool = false) {
        self.host = host
        self.port = port
        self.transport = transport
        self.secure = secure
    }

    /// "sip:[user@]host[:port][;params]" or "sips:…"; nil when it is not one.
    public init?(uri: String) {
        let lower = uri.lowercased()
        let rest: Substring
        if lower.hasPrefix("sips:") {
            secure = true
            rest = uri.dropFirst(5)
        } else if lower.hasPrefix("sip:") {
            secure = false
            rest = uri.dropFirst(4)
        } else {
            return nil
        }
        // Drop headers (?…), then split parameters off.
        let withoutHeaders = rest.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)[0]
        let pieces = withoutHeaders.split(separator: ";", omittingEmptySubsequences: false)
        var hostPort = pieces[0]
        if let at = hostPort.lastIndex(of: "@") { hostPort = hostPort[hostPort.index(after: at)...] }
        var transport: SIPTarget.Transport?
        for parameter in pieces.dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, pair[0].lowercased() == "transport" else { continue }
            switch pair[1].lowercased() {
            case "udp": transport = .udp
            case "tcp": transport = secure ? .tls : .tcp
            case "tls": transport = .tls
            default: return nil
            }
        }
        let host: Substring
        var port: UInt16?
        if hostPort.hasPrefix("[") {
            guard let close = hostPort.firstIndex(of: "]") else { return nil }
            host = hostPort[hostPort.index(after: hostPort.startIndex)..<close]
            let after = hostPort[hostPort.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let value = UInt16(after.dropFirst()), value > 0 else { return nil }
                port = value
            }
            guard IPAddressText.isIPv6(String(host)) else { return nil }
        } else if let colon = hostPort.firstIndex(of: ":") {
            host = hostPort[..<colon]
            guard let value = UInt16(hostPort[hostPort.index(after: colon)...]), value > 0 else { return nil }
            port = value
        } else {
            host = hostPort
        }
        guard !host.isEmpty else { return nil }
        self.host = String(host)
        self.port = port
        self.transport = transport
    }

    /// Whether the host is a numeric address, used as it is (RFC 3263 §4.2).
    public var isNumeric: Bool {
        IPAddressText.isIPv4(host) || IPAddressText.isIPv6(host)
    }
}
