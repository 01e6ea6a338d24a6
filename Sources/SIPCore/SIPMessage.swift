import NIOCore

/// A SIP request. Bodies are opaque bytes: SDP, multipart and metadata are parsed elsewhere.
public struct SIPRequest: Hashable, Sendable {
    public var method: SIPMethod
    public var uri: SIPURI
    public var headers: SIPHeaders
    public var body: ByteBuffer?

    public init(method: SIPMethod, uri: SIPURI, headers: SIPHeaders = SIPHeaders(), body: ByteBuffer? = nil) {
        self.method = method
        self.uri = uri
        self.headers = headers
        self.body = body
    }
}

/// A SIP response.
public struct SIPResponse: Hashable, Sendable {
    public var statusCode: Int
    public var reasonPhrase: String
    public var headers: SIPHeaders
    public var body: ByteBuffer?

    public init(statusCode: Int, reasonPhrase: String? = nil, headers: SIPHeaders = SIPHeaders(), body: ByteBuffer? = nil) {
        self.statusCode = statusCode
        self.reasonPhrase = reasonPhrase ?? SIPStatus.reasonPhrase(statusCode)
        self.headers = headers
        self.body = body
    }

    public var isProvisional: Bool { statusCode < 200 }
    public var isSuccess: Bool { (200..<300).contains(statusCode) }
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
}

extension SIPRequest: SIPMessageHeaders {}
extension SIPResponse: SIPMessageHeaders {}

extension SIPMessageHeaders {
    public var callID: String? { headers[.callID] }
    public var cseq: SIPCSeq? { headers[.cseq].flatMap { try? SIPCSeq(parsing: $0) } }
    public var from: SIPAddress? { headers[.from].flatMap { try? SIPAddress(parsing: $0) } }
    public var to: SIPAddress? { headers[.to].flatMap { try? SIPAddress(parsing: $0) } }
    public var topVia: SIPVia? { headers.firstValue(.via).flatMap { try? SIPVia(parsing: $0) } }
    public var vias: [SIPVia] { headers.values(.via).compactMap { try? SIPVia(parsing: $0) } }
    public var contentType: String? { headers[.contentType] }
    public var contacts: [SIPAddress] { headers.values(.contact).compactMap { try? SIPAddress(parsing: $0) } }
    public var recordRoutes: [SIPAddress] { headers.values(.recordRoute).compactMap { try? SIPAddress(parsing: $0) } }
    /// Option tags of a list header such as Require or Supported, lowercased.
    public func optionTags(_ name: SIPHeaderName) -> [String] { headers.values(name).map { $0.lowercased() } }
}
