/// Settings of `CachingDNSResolver`.
public struct DNSCacheConfiguration: Sendable {
    /// Seconds a negative answer (NXDOMAIN, NODATA) is kept: the SOA's negative TTL (RFC 2308
    /// §5) when the server sent one and it is shorter, otherwise this.
    public var negativeTTL: Double
    /// Positive answers are kept for their smallest TTL, at most this.
    public var maxTTL: Double
    /// Entries kept; past it expired ones go first, then the soonest to expire.
    public var maxEntries: Int

    public init(negativeTTL: Double = 30, maxTTL: Double = 3600, maxEntries: Int = 10_000) {
        self.negativeTTL = negativeTTL
        self.maxTTL = maxTTL
        self.maxEntries = max(1, maxEntries)
    }
}
