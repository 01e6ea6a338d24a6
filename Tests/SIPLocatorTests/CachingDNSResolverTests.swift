import Testing
@testable import SIPLocator

@Suite("DNS TTL cache")
struct CachingDNSResolverTests {
    @Test("a positive answer is kept for its smallest TTL, with the TTLs counted down")
    func positive() async throws {
        let upstream = FakeResolver()
        upstream.set("_sip._udp.example.com", .srv, [
            .srv(SRVRecord(priority: 10, weight: 1, port: 5060, target: "node1.example.com")),
        ], ttl: 30)
        let clock = ManualClock()
        let cache = CachingDNSResolver(upstream: upstream, clock: clock)

        let first = try await cache.query(name: "_sip._udp.example.com", type: .srv)
        #expect(first.records.first?.ttl == 30)
        clock.advance(29)
        let second = try await cache.query(name: "_SIP._udp.Example.COM.", type: .srv)
        #expect(second.records.first?.ttl == 1)
        #expect(upstream.count("_sip._udp.example.com", .srv) == 1)
        clock.advance(1)
        _ = try await cache.query(name: "_sip._udp.example.com", type: .srv)
        #expect(upstream.count("_sip._udp.example.com", .srv) == 2)
    }

    @Test("the smallest TTL of the answer decides; maxTTL caps it")
    func minimumAndCap() async throws {
        let upstream = FakeResolver()
        upstream.set("node.example.com", .a, answer: .records([
            DNSRecord(name: "node.example.com", ttl: 600, data: .a("192.0.2.1")),
            DNSRecord(name: "node.example.com", ttl: 100, data: .a("192.0.2.2")),
        ]))
        let clock = ManualClock()
        let cache = CachingDNSResolver(upstream: upstream, configuration: DNSCacheConfiguration(maxTTL: 50), clock: clock)
        _ = try await cache.query(name: "node.example.com", type: .a)
        clock.advance(49.5)
        _ = try await cache.query(name: "node.example.com", type: .a)
        #expect(upstream.count("node.example.com", .a) == 1)
        clock.advance(1)
        _ = try await cache.query(name: "node.example.com", type: .a)
        #expect(upstream.count("node.example.com", .a) == 2)
    }

    @Test("NXDOMAIN without an SOA is kept for the fixed negative TTL")
    func negativeFixed() async throws {
        let upstream = FakeResolver()
        let clock = ManualClock()
        let cache = CachingDNSResolver(upstream: upstream, configuration: DNSCacheConfiguration(negativeTTL: 30), clock: clock)
        #expect(try await cache.query(name: "missing.example.com", type: .a).outcome == .nameNotFound)
        clock.advance(29.9)
        #expect(try await cache.query(name: "missing.example.com", type: .a).outcome == .nameNotFound)
        #expect(upstream.count("missing.example.com", .a) == 1)
        clock.advance(0.2)
        _ = try await cache.query(name: "missing.example.com", type: .a)
        #expect(upstream.count("missing.example.com", .a) == 2)
    }

    @Test("a shorter SOA negative TTL wins over the fixed one")
    func negativeFromSOA() async throws {
        let upstream = FakeResolver()
        upstream.set("node.example.com", .aaaa, answer: DNSAnswer(outcome: .noData, negativeTTL: 5))
        let clock = ManualClock()
        let cache = CachingDNSResolver(upstream: upstream, clock: clock)
        _ = try await cache.query(name: "node.example.com", type: .aaaa)
        clock.advance(4)
        let cached = try await cache.query(name: "node.example.com", type: .aaaa)
        #expect(cached.outcome == .noData)
        #expect(cached.negativeTTL == 1)
        clock.advance(1)
        _ = try await cache.query(name: "node.example.com", type: .aaaa)
        #expect(upstream.count("node.example.com", .aaaa) == 2)
    }

    @Test("failures and TTL 0 answers are not cached")
    func notCached() async throws {
        let upstream = FakeResolver()
        upstream.fail("_sip._udp.example.com", .srv, DNSError(.timeout))
        upstream.set("zero.example.com", .a, [.a("192.0.2.7")], ttl: 0)
        let cache = CachingDNSResolver(upstream: upstream, clock: ManualClock())
        for _ in 0..<2 {
            await #expect(throws: DNSError(.timeout)) { try await cache.query(name: "_sip._udp.example.com", type: .srv) }
            _ = try await cache.query(name: "zero.example.com", type: .a)
        }
        #expect(upstream.count("_sip._udp.example.com", .srv) == 2)
        #expect(upstream.count("zero.example.com", .a) == 2)
    }

    @Test("types are cached apart; the entry limit evicts the soonest to expire")
    func keysAndLimit() async throws {
        let upstream = FakeResolver()
        for index in 0..<4 {
            upstream.set("n\(index).example.com", .a, [.a("192.0.2.\(index)")], ttl: UInt32(100 + index))
        }
        let cache = CachingDNSResolver(upstream: upstream, configuration: DNSCacheConfiguration(maxEntries: 3), clock: ManualClock())
        for index in 0..<4 { _ = try await cache.query(name: "n\(index).example.com", type: .a) }
        #expect(cache.count == 3)
        _ = try await cache.query(name: "n0.example.com", type: .a)  // evicted (shortest TTL): asked again
        _ = try await cache.query(name: "n3.example.com", type: .a)  // kept
        #expect(upstream.count("n0.example.com", .a) == 2)
        #expect(upstream.count("n3.example.com", .a) == 1)
        _ = try await cache.query(name: "n3.example.com", type: .aaaa)
        #expect(upstream.count("n3.example.com", .aaaa) == 1)
    }
}
