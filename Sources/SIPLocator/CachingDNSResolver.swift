import Foundation

/// A TTL cache in front of another resolver. Answers come back with their TTLs counted down
/// to what is left. Failures (timeouts, SERVFAIL) are not cached.
public final class CachingDNSResolver: DNSResolver, @unchecked Sendable {
    private struct Key: Hashable {
        var name: String
        var type: DNSRecordType
    }

    private struct Entry {
        var answer: DNSAnswer
        var stored: Double
        var expires: Double
    }

    public let configuration: DNSCacheConfiguration
    private let upstream: any DNSResolver
    private let clock: any LocatorClock
    private let lock = NSLock()
    private var entries: [Key: Entry] = [:]

    public init(upstream: any DNSResolver, configuration: DNSCacheConfiguration = DNSCacheConfiguration(),
                clock: any LocatorClock = MonotonicLocatorClock()) {
        self.upstream = upstream
        self.configuration = configuration
        self.clock = clock
    }

    public func query(name: String, type: DNSRecordType) async throws(DNSError) -> DNSAnswer {
        let key = Key(name: Self.normalized(name), type: type)
        if let cached = cachedAnswer(key) { return cached }
        let answer = try await upstream.query(name: name, type: type)
        store(answer, key: key)
        return answer
    }

    /// Entries held now (expired ones included until they are pruned).
    public var count: Int { lock.withLock { entries.count } }

    /// Forgets everything.
    public func removeAll() {
        lock.withLock { entries.removeAll() }
    }

    private func cachedAnswer(_ key: Key) -> DNSAnswer? {
        let now = clock.now()
        return lock.withLock { () -> DNSAnswer? in
            guard let entry = entries[key] else { return nil }
            guard now < entry.expires else {
                entries[key] = nil
                return nil
            }
            var answer = entry.answer
            let elapsed = UInt32(min(Double(UInt32.max), (now - entry.stored).rounded(.down)))
            for index in answer.records.indices {
                answer.records[index].ttl -= min(answer.records[index].ttl, elapsed)
            }
            if let negative = answer.negativeTTL { answer.negativeTTL = negative - min(negative, elapsed) }
            return answer
        }
    }

    private func store(_ answer: DNSAnswer, key: Key) {
        let lifetime: Double
        switch answer.outcome {
        case .records:
            lifetime = min(Double(answer.minimumTTL ?? 0), configuration.maxTTL)
        case .nameNotFound, .noData:
            lifetime = min(answer.negativeTTL.map(Double.init) ?? configuration.negativeTTL, configuration.negativeTTL)
        }
        guard lifetime > 0 else { return }
        let now = clock.now()
        lock.withLock {
            entries[key] = Entry(answer: answer, stored: now, expires: now + lifetime)
            guard entries.count > configuration.maxEntries else { return }
            entries = entries.filter { now < $0.value.expires }
            while entries.count > configuration.maxEntries,
                  let soonest = entries.min(by: { $0.value.expires < $1.value.expires }) {
                entries[soonest.key] = nil
            }
        }
    }

    /// DNS names compare without regard to ASCII case (RFC 4343) or a trailing dot.
    static func normalized(_ name: String) -> String {
        var lower = name.lowercased()
        if lower.count > 1 && lower.hasSuffix(".") { lower.removeLast() }
        return lower
    }
}
