/// Settings of `SystemDNSResolver`.
public struct DNSResolverConfiguration: Sendable {
    /// The one name server to ask; nil: those of /etc/resolv.conf.
    public var nameServer: DNSNameServer?
    /// Seconds per attempt (glibc counts whole seconds; at least 1).
    public var timeoutSeconds: Int
    /// Attempts per name server.
    public var attempts: Int
    /// Threads that run blocking queries; more queries than this wait their turn.
    public var workerThreads: Int
    /// The largest response read (TCP answers can reach 64 KiB).
    public var maxAnswerBytes: Int

    public init(nameServer: DNSNameServer? = nil, timeoutSeconds: Int = 2, attempts: Int = 2, workerThreads: Int = 2,
                maxAnswerBytes: Int = 65_535) {
        self.nameServer = nameServer
        self.timeoutSeconds = max(1, timeoutSeconds)
        self.attempts = max(1, attempts)
        self.workerThreads = max(1, workerThreads)
        self.maxAnswerBytes = max(512, maxAnswerBytes)
    }
}
