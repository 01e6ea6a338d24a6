/// A header field name, compared case-insensitively with compact forms mapped to their
/// full names (RFC 3261 §7.3.3, §20). `key` is the lowercased full name.
public struct SIPHeaderName: Hashable, Sendable, CustomStringConvertible {
    public let key: String

    /// The name as it is written when this server serializes a header it created.
    public var canonical: String { Self.canonicalSpelling[key] ?? key }

    public init(_ name: String) {
        let lower = name.lowercased()
        if lower.utf8.count == 1, let full = Self.compactForms[lower] {
            key = full
        } else {
            key = lower
        }
    }

    private init(key: String) { self.key = key }

    public var description: String { canonical }

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

    static let canonicalSpelling: [String: String] = {
        let names = [
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
        var table: [String: String] = [:]
        for name in names { table[name.lowercased()] = name }
        return table
    }()

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
}
