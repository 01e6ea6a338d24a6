/// One Via value (RFC 3261 §20.42): `SIP/2.0/UDP host:port;branch=…;rport;received=…`.
public struct SIPVia: Hashable, Sendable, CustomStringConvertible {
    public var transport: String
    public var host: String
    public var port: Int?
    public var parameters: [SIPParameter]

    public init(transport: String, host: String, port: Int?, parameters: [SIPParameter]) {
        self.transport = transport
        self.host = host
        self.port = port
        self.parameters = parameters
    }

    public var branch: String? { parameters.parameter("branch") ?? nil }
    public var received: String? { parameters.parameter("received") ?? nil }
    /// `nil` when absent, `.some(nil)` when present without a value (a request for RFC 3581).
    public var rport: String?? { parameters.parameter("rport") }

    /// The RFC 3261 magic cookie marks a branch as globally unique (§8.1.1.7).
    public var hasRFC3261Branch: Bool { branch?.hasPrefix("z9hG4bK") ?? false }

    public var description: String {
        var out = "SIP/2.0/" + transport + " " + host
        if let port { out += ":\(port)" }
        out += parameters.serialized()
        return out
    }

    public enum ParseError: Error, Sendable { case invalid }

    public init(parsing text: some StringProtocol) throws(ParseError) {
        self = try SIPBytes.withBytes(text) { (bytes) throws(ParseError) in try SIPVia(bytes: bytes, range: 0..<bytes.count) }
    }
}

/// CSeq (RFC 3261 §20.16): a sequence number below 2**31 and the request method.
public struct SIPCSeq: Hashable, Sendable, CustomStringConvertible {
    public var number: UInt32
    public var method: SIPMethod

    public init(number: UInt32, method: SIPMethod) {
        self.number = number
        self.method = method
    }

    public var description: String { "\(number) \(method.rawValue)" }

    public enum ParseError: Error, Sendable { case invalid }

    public init(parsing text: some StringProtocol) throws(ParseError) {
        // 1*DIGIT LWS Method, scanned without building intermediate arrays.
        let utf8 = Substring(text).trimmingSIPWhitespace().utf8
        var index = utf8.startIndex
        var number: UInt64 = 0
        var digits = 0
        while index != utf8.endIndex, utf8[index] >= 0x30, utf8[index] <= 0x39 {
            number = number * 10 + UInt64(utf8[index] - 0x30)
            digits += 1
            guard digits <= 10 else { throw .invalid }
            index = utf8.index(after: index)
        }
        guard digits > 0, number < 0x8000_0000, index != utf8.endIndex, utf8[index] == 0x20 || utf8[index] == 0x09 else { throw .invalid }
        while index != utf8.endIndex, utf8[index] == 0x20 || utf8[index] == 0x09 { index = utf8.index(after: index) }
        let method = Substring(utf8[index...])
        guard !method.isEmpty, method.utf8.allSatisfy(SIPGrammar.isTokenByte) else { throw .invalid }
        self.number = UInt32(number)
        self.method = SIPMethod(String(method))
    }
}

enum SIPGrammar {
    /// RFC 3261 §25.1 token characters.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "!"), UInt8(ascii: "%"), UInt8(ascii: "*"),
             UInt8(ascii: "_"), UInt8(ascii: "+"), UInt8(ascii: "`"), UInt8(ascii: "'"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }
}
