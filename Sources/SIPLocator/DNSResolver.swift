/// Asks DNS one question. Implementations: `SystemDNSResolver` (glibc's stub resolver on
/// worker threads), `CachingDNSResolver` (a TTL cache in front of another), fakes in tests.
public protocol DNSResolver: Sendable {
    /// The records of `type` at `name` (absolute; no search list). A name that does not exist
    /// or has no such records is an answer with no records, not an error; errors are for a
    /// server that could not be asked or could not answer.
    func query(name: String, type: DNSRecordType) async throws(DNSError) -> DNSAnswer
}
