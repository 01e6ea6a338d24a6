/// A query that got no usable answer. Affects that lookup only.
public struct DNSError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Hashable, Sendable {
        /// No response in time (or the server's port refused the datagram).
        case timeout
        /// SERVFAIL or another temporary failure (h_errno TRY_AGAIN).
        case serverFailure
        /// FORMERR, REFUSED, NOTIMP, or an answer too large (h_errno NO_RECOVERY).
        case noRecovery
        /// The response could not be read.
        case malformedAnswer
        /// The resolver could not be set up (bad name server address, res_ninit failed).
        case resolverUnavailable
    }

    public var code: Code
    /// What the resolver said (h_errno, errno, parse error), for debug logs.
    public var detail: String

    public init(_ code: Code, detail: String = "") {
        self.code = code
        self.detail = detail
    }

    public var description: String { detail.isEmpty ? "DNS \(code.rawValue)" : "DNS \(code.rawValue) (\(detail))" }
}
