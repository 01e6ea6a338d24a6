/// Start of authority: only what negative caching needs (RFC 2308 §5).
public struct SOARecord: Hashable, Sendable {
    public var primaryServer: String
    public var minimum: UInt32

    public init(primaryServer: String, minimum: UInt32) {
        self.primaryServer = primaryServer
        self.minimum = minimum
    }
}
