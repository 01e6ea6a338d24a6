import NIOCore
import SIPCore

/// Where a message came from, and so where its responses go (RFC 3261 §18.2.2).
public struct SIPPeer: Hashable, Sendable, CustomStringConvertible {
    public var transport: SIPTransportKind
    public var remoteAddress: SocketAddress
    /// The listener address the message arrived on (for Via and Contact of what we send).
    public var localAddress: SocketAddress?
    /// Identifies the TCP/TLS connection; responses go back over it.
    public var connectionID: Int?

    public init(transport: SIPTransportKind, remoteAddress: SocketAddress, localAddress: SocketAddress? = nil, connectionID: Int? = nil) {
        self.transport = transport
        self.remoteAddress = remoteAddress
        self.localAddress = localAddress
        self.connectionID = connectionID
    }

    public var description: String { "\(transport.rawValue.lowercased()):\(remoteAddress.ipAddress ?? "?"):\(remoteAddress.port ?? 0)" }
}

/// RFC 3261 §17.2.3 server transaction matching: branch, sent-by and method (ACK matches
/// INVITE). Requests without the magic cookie fall back to a key from the RFC 2543 fields.
public struct ServerTransactionKey: Hashable, Sendable {
    public let branch: String
    public let sentBy: String
    public let method: SIPMethod
    /// Hashed once: the transaction tables hold hundreds of thousands of keys at a few thousand
    /// calls per second (each lives 64·T1), and every insert, lookup and removal (which rehashes
    /// the keys it shifts) would otherwise hash both strings again.
    private let hash: Int

    public init(branch: String, sentBy: String, method: SIPMethod) {
        self.branch = branch
        self.sentBy = sentBy
        self.method = method
        var hasher = Hasher()
        hasher.combine(branch)
        hasher.combine(sentBy)
        hasher.combine(method)
        self.hash = hasher.finalize()
    }

    public static func == (lhs: ServerTransactionKey, rhs: ServerTransactionKey) -> Bool {
        lhs.hash == rhs.hash && lhs.branch == rhs.branch && lhs.sentBy == rhs.sentBy && lhs.method == rhs.method
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(hash)
    }

    /// The key of the transaction a request belongs to; ACK and CANCEL map onto the INVITE's
    /// key when `matchingInvite` is set.
    public static func of(_ request: SIPRequest, via: SIPVia, matchingInvite: Bool = false) -> ServerTransactionKey {
        let method: SIPMethod = (request.method == .ack || matchingInvite) ? .invite : request.method
        let sentBy = via.host.lowercased() + ":" + String(via.port ?? 0)
        if via.hasRFC3261Branch, let branch = via.branch {
            return ServerTransactionKey(branch: branch, sentBy: sentBy, method: method)
        }
        // RFC 3261 §17.2.3 (RFC 2543 compatibility): Call-ID, From tag, CSeq number and top Via.
        let legacy = (request.callID ?? "") + "|" + (request.from?.tag ?? "") + "|" + String(request.cseq?.number ?? 0)
        return ServerTransactionKey(branch: legacy, sentBy: sentBy, method: method)
    }
}
