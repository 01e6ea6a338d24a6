/// A header field name, compared case-insensitively with compact forms mapped to their
/// full names (RFC 3261 §7.3.3, §20). `key` is the lowercased full name.
public struct SIPHeaderName: Hashable, Sendable, CustomStringConvertible {
    public let key: String
    /// 1-based index into the known-name table, 0 for other names: comparing two known
    /// names is an integer comparison, which header lookups do all the time.
    let id: UInt16

    /// The name as it is written when this server serializes a header it created.
    public var canonical: String { id > 0 ? Self.knownNames[Int(id) - 1].canonical : key }

    public init(_ name: String) {
        let lower = name.lowercased()
        if lower.utf8.count == 1, let full = Self.compactForms[lower] {
            self.init(key: full)
        } else {
            self.init(key: lower)
        }
    }

    private init(key: String) {
        self.key = key
        self.id = Self.idByKey[key] ?? 0
    }

    private init(key: String, id: UInt16) {
        self.key = key
        self.id = id
    }

    public static func == (lhs: SIPHeaderName, rhs: SIPHeaderName) -> Bool {
        if lhs.id != 0 || rhs.id != 0 { return lhs.id == rhs.id }
        return lhs.key == rhs.key
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(key) }

    public var description: String { canonical }

    /// Recognises a known header name (full or compact, any case) from raw bytes without
    /// allocating; `spelledCanonically` tells whether the bytes are the canonical spelling.
    static func known(_ bytes: UnsafeRawBufferPointer) -> (name: SIPHeaderName, spelledCanonically: Bool)? {
        if bytes.count == 1 {
            let lower = bytes[0] | 0x20
            guard let index = compactTable.firstIndex(where: { $0.0 == lower }) else { return nil }
            return (compactTable[index].1, false)
        }
        guard bytes.count < knownByLength.count else { return nil }
        candidateLoop: for candidate in knownByLength[bytes.count] {
            var exact = true
            for (offset, expected) in candidate.spelling.enumerated() {
                let byte = bytes[offset]
                if byte != expected {
                    exact = false
                    let lower = (byte >= 65 && byte <= 90) ? byte | 0x20 : byte
                    let expectedLower = (expected >= 65 && expected <= 90) ? expected | 0x20 : expected
                    if lower != expectedLower { continue candidateLoop }
                }
            }
            return (candidate.name, exact)
        }
        return nil
    }

    private struct KnownName: Sendable {
        var name: SIPHeaderName
        var canonical: String
        var spelling: [UInt8]
    }

    private static let knownNames: [KnownName] = canonicalNames.enumerated().map { index, spelling in
        KnownName(name: SIPHeaderName(key: spelling.lowercased(), id: UInt16(index + 1)), canonical: spelling, spelling: Array(spelling.utf8))
    }

    private static let idByKey: [String: UInt16] = {
        var table: [String: UInt16] = [:]
        for (index, spelling) in canonicalNames.enumerated() { table[spelling.lowercased()] = UInt16(index + 1) }
        return table
    }()

    private static let knownByLength: [[KnownName]] = {
        let longest = canonicalNames.map(\.utf8.count).max() ?? 0
        var table = [[KnownName]](repeating: [], count: longest + 1)
        for known in knownNames { table[known.spelling.count].append(known) }
        return table
    }()

    private static let compactTable: [(UInt8, SIPHeaderName)] = compactForms.map { (Array($0.key.utf8)[0], SIPHeaderName(key: $0.value)) }

    /// The compact form of this header, if it has one.
    public var compactForm: String? { Self.compactForms.first { $0.value == key }?.key }

    // RFC 3261 §20 and later RFCs that define a compact form.
    static let compactForms: [String: String] = [
        "a": "accept-contact", "b": "referred-by", "c": "content-type", "d": "request-disposition",
        "e": "content-encoding", "f": "from", "i": "call-id", "j": "reject-contact",
        "k": "supported", "l": "content-length", "m": "contact", "n": "identity-info",
        "o": "event", "r": "refer-to", "s": "subject", "t": "to", "u": "allow-events",
        "v": "via", "x": "session-expires", "y": "identity",
    ]

    static let canonicalNames = [
            "Accept", "Accept-Contact", "Accept-Encoding", "Accept-Language", "Alert-Info", "Allow",
            "Allow-Events", "Authorization", "Call-ID", "Call-Info", "Contact", "Content-Disposition",
            "Content-Encoding", "Content-Language", "Content-Length", "Content-Type", "CSeq", "Date",
            "Error-Info", "Event", "Expires", "From", "Identity", "Identity-Info", "In-Reply-To",
            "Max-Forwards", "Min-Expires", "Min-SE", "MIME-Version", "Organization",
            "P-Asserted-Identity", "Priority", "Proxy-Authenticate", "Proxy-Authorization",
            "Proxy-Require", "Reason", "Record-Route", "Refer-To", "Referred-By", "Reject-Contact",
            "Remote-Party-ID", "Reply-To", "Request-Disposition", "Require", "Retry-After", "Route",
            "RSeq", "RAck", "Server", "Session-Expires", "Session-ID", "Subject", "Supported",
            "Timestamp", "To", "Unsupported", "User-Agent", "User-to-User", "Via", "Warning",
            "WWW-Authenticate",
        ]

    public static let accept = SIPHeaderName(key: "accept")
    public static let allow = SIPHeaderName(key: "allow")
    public static let callID = SIPHeaderName(key: "call-id")
    public static let contact = SIPHeaderName(key: "contact")
    public static let contentDisposition = SIPHeaderName(key: "content-disposition")
    public static let contentLength = SIPHeaderName(key: "content-length")
    public static let contentType = SIPHeaderName(key: "content-type")
    public static let cseq = SIPHeaderName(key: "cseq")
    public static let from = SIPHeaderName(key: "from")
    public static let maxForwards = SIPHeaderName(key: "max-forwards")
    public static let recordRoute = SIPHeaderName(key: "record-route")
    public static let require = SIPHeaderName(key: "require")
    public static let retryAfter = SIPHeaderName(key: "retry-after")
    public static let route = SIPHeaderName(key: "route")
    public static let server = SIPHeaderName(key: "server")
    public static let supported = SIPHeaderName(key: "supported")
    public static let to = SIPHeaderName(key: "to")
    public static let unsupported = SIPHeaderName(key: "unsupported")
    public static let userAgent = SIPHeaderName(key: "user-agent")
    public static let via = SIPHeaderName(key: "via")
    public static let warning = SIPHeaderName(key: "warning")
    public static let reason = SIPHeaderName(key: "reason")
    public static let sessionExpires = SIPHeaderName(key: "session-expires")
    public static let minSE = SIPHeaderName(key: "min-se")
}
