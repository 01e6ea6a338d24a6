import NIOCore

/// The headers every transaction and dialog reads, as the parser validated them. Kept with the
/// message so that they are parsed once, not at every look-up.
public struct SIPParsedFields: Hashable, Sendable {
    public var callID: String
    public var cseq: SIPCSeq
    public var from: SIPAddress
    public var to: SIPAddress
    public var topVia: SIPVia
}

/// Parsed fields live behind a reference so that a message stays small to copy (transactions
/// keep messages in dictionaries; a few hundred bytes inline showed up as memmove in profiles).
final class SIPParsedFieldsBox: Sendable {
    let fields: SIPParsedFields
    init(_ fields: SIPParsedFields) { self.fields = fields }
}

/// A SIP request. Bodies are opaque bytes: SDP, multipart and metadata are parsed elsewhere.
public struct SIPRequest: Hashable, Sendable {
    public var method: SIPMethod
    public var uri: SIPURI
    /// Changing the headers drops `parsedFields` (they are then read from the headers).
    public var headers: SIPHeaders { didSet { parsedBox = nil } }
    public var body: ByteBuffer?
    private var parsedBox: SIPParsedFieldsBox?
    public internal(set) var parsedFields: SIPParsedFields? {
        get { parsedBox?.fields }
        set { parsedBox = newValue.map(SIPParsedFieldsBox.init) }
    }

    public init(method: SIPMethod, uri: SIPURI, headers: SIPHeaders = SIPHeaders(), body: ByteBuffer? = nil) {
        self.method = method
        self.uri = uri
        self.headers = headers
        self.body = body
    }

    /// Replaces the topmost Via (e.g. to add `received`/`rport`), keeping the parsed fields.
    public mutating func replaceTopVia(_ via: SIPVia) {
        let saved = parsedFields
        headers.replaceTopVia(with: via.description)
        parsedFields = saved
        parsedFields?.topVia = via
    }

    public static func == (lhs: SIPRequest, rhs: SIPRequest) -> Bool {
        lhs.method == rhs.method && lhs.uri == rhs.uri && lhs.headers == rhs.headers && lhs.body == rhs.body
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(method)
        hasher.combine(uri)
        hasher.combine(headers)
        hasher.combine(body)
    }
}

/// A SIP response.
public struct SIPResponse: Hashable, Sendable {
    public var statusCode: Int
    public var reasonPhrase: String
    public var headers: SIPHeaders { didSet { parsedBox = nil } }
    public var body: ByteBuffer?
    private var parsedBox: SIPParsedFieldsBox?
    public internal(set) var parsedFields: SIPParsedFields? {
        get { parsedBox?.fields }
        set { parsedBox = newValue.map(SIPParsedFieldsBox.init) }
    }

    public init(statusCode: Int, reasonPhrase: String? = nil, headers: SIPHeaders = SIPHeaders(), body: ByteBuffer? = nil) {
        self.statusCode = statusCode
        self.reasonPhrase = reasonPhrase ?? SIPStatus.reasonPhrase(statusCode)
        self.headers = headers
        self.body = body
    }

    public var isProvisional: Bool { statusCode < 200 }
    public var isSuccess: Bool { (200..<300).contains(statusCode) }

    public static func == (lhs: SIPResponse, rhs: SIPResponse) -> Bool {
        lhs.statusCode == rhs.statusCode && lhs.reasonPhrase == rhs.reasonPhrase && lhs.headers == rhs.headers && lhs.body == rhs.body
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(statusCode)
        hasher.combine(reasonPhrase)
        hasher.combine(headers)
        hasher.combine(body)
    }
}

public enum SIPMessage: Hashable, Sendable {
    case request(SIPRequest)
    case response(SIPResponse)

    public var headers: SIPHeaders {
        switch self {
        case .request(let request): request.headers
        case .response(let response): response.headers
        }
    }

    public var body: ByteBuffer? {
        switch self {
        case .request(let request): request.body
        case .response(let response): response.body
        }
    }
}

/// Typed access to the headers every transaction and dialog needs.
public protocol SIPMessageHeaders {
    var headers: SIPHeaders { get }
    var parsedFields: SIPParsedFields? { get }
}

extension SIPRequest: SIPMessageHeaders {}
extension SIPResponse: SIPMessageHeaders {}

extension SIPMessageHeaders {
    public var callID: String? { parsedFields?.callID ?? headers[.callID] }
    public var cseq: SIPCSeq? { parsedFields?.cseq ?? headers[.cseq].flatMap { try? SIPCSeq(parsing: $0) } }
    public var from: SIPAddress? { parsedFields?.from ?? headers[.from].flatMap { try? SIPAddress(parsing: $0) } }
    public var to: SIPAddress? { parsedFields?.to ?? headers[.to].flatMap { try? SIPAddress(parsing: $0) } }
    public var topVia: SIPVia? { parsedFields?.topVia ?? headers.firstValue(.via).flatMap { try? SIPVia(parsing: $0) } }
    public var vias: [SIPVia] { headers.values(.via).compactMap { try? SIPVia(parsing: $0) } }
    public var contentType: String? { headers[.contentType] }
    public var contacts: [SIPAddress] { headers.values(.contact).compactMap { try? SIPAddress(parsing: $0) } }
    public var recordRoutes: [SIPAddress] { headers.values(.recordRoute).compactMap { try? SIPAddress(parsing: $0) } }
    /// Option tags of a list header such as Require or Supported, lowercased.
    public func optionTags(_ name: SIPHeaderName) -> [String] { headers.values(name).map { $0.lowercased() } }
}
