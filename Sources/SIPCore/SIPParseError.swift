/// Why a message could not be parsed, with the status a server answers with when the
/// request can still be routed back (its Via was readable).
public struct SIPParseError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Hashable, Sendable {
        case malformedStartLine
        case unsupportedVersion
        case malformedHeader
        case missingHeader
        case invalidCSeq
        case invalidVia
        case invalidAddress
        case invalidContentLength
        case missingContentLength
        case bodyTruncated
        case messageTooLarge
        case tooManyHeaders
        case invalidRequestURI
        case invalidStatusCode
    }

    public var code: Code
    /// The header concerned, when there is one (canonical spelling).
    public var header: String?
    /// Headers read before the error, so that a 400 can copy Via, From, To, Call-ID, CSeq.
    public var partialHeaders: SIPHeaders?
    /// Whether the bytes looked like a request (only requests are answered).
    public var looksLikeRequest: Bool
    /// The request method, when the start line could be read (a broken ACK is never answered).
    public var requestMethod: SIPMethod?

    public init(_ code: Code, header: String? = nil, partialHeaders: SIPHeaders? = nil, looksLikeRequest: Bool = true) {
        self.code = code
        self.header = header
        self.partialHeaders = partialHeaders
        self.looksLikeRequest = looksLikeRequest
    }

    public var statusCode: Int {
        switch code {
        case .unsupportedVersion: 505
        case .messageTooLarge, .tooManyHeaders: 513
        default: 400
        }
    }

    /// A reason phrase that names the problem (RFC 3261 §21.4.1 lets a 400 say why).
    public var reasonPhrase: String {
        switch code {
        case .malformedStartLine: "Malformed Start Line"
        case .unsupportedVersion: "Version Not Supported"
        case .malformedHeader: "Malformed Header" + (header.map { " \($0)" } ?? "")
        case .missingHeader: "Missing \(header ?? "Required") Header"
        case .invalidCSeq: "Invalid CSeq Header"
        case .invalidVia: "Invalid Via Header"
        case .invalidAddress: "Invalid \(header ?? "Address") Header"
        case .invalidContentLength: "Invalid Content-Length"
        case .missingContentLength: "Missing Content-Length"
        case .bodyTruncated: "Content-Length Exceeds Body"
        case .messageTooLarge: "Message Too Large"
        case .tooManyHeaders: "Too Many Headers"
        case .invalidRequestURI: "Invalid Request-URI"
        case .invalidStatusCode: "Invalid Status Code"
        }
    }

    /// Redacted: no header values, so it is safe to log.
    public var description: String {
        "SIPParseError(\(code.rawValue)\(header.map { ", header: \($0)" } ?? ""))"
    }

    public static func == (lhs: SIPParseError, rhs: SIPParseError) -> Bool {
        lhs.code == rhs.code && lhs.header == rhs.header
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(code)
        hasher.combine(header)
    }
}

/// Limits on what a peer may send; every one is configurable (STYLE 10).
public struct SIPParserLimits: Hashable, Sendable {
    /// Largest whole message (headers and body).
    public var maxMessageSize: Int
    /// Largest header section on a stream before the blank line must have arrived.
    public var maxHeaderSectionSize: Int
    public var maxHeaderCount: Int

    public init(maxMessageSize: Int = 65_535, maxHeaderSectionSize: Int = 32_768, maxHeaderCount: Int = 256) {
        self.maxMessageSize = maxMessageSize
        self.maxHeaderSectionSize = maxHeaderSectionSize
        self.maxHeaderCount = maxHeaderCount
    }
}
