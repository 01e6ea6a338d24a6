import Foundation
import Testing
import SIPTestSupport
@testable import SIPLocator

private func resolver(_ server: TestDNSServer, timeout: Int = 2) -> SystemDNSResolver {
    SystemDNSResolver(configuration: DNSResolverConfiguration(nameServer: DNSNameServer(parsing: server.address), timeoutSeconds: timeout,
                                                              attempts: 1))
}

/// Against a real dnsmasq on loopback: glibc's resolver through CResolv, the parser on real
/// answers, and the locator end to end.
@Suite("System resolver and locator against dnsmasq")
struct SystemDNSResolverTests {
    static let twoNodes: [TestDNSServer.Record] = [
        .host("node1.example.com", address: "127.0.0.1"),
        .host("node2.example.com", address: "127.0.0.2"),
    ]

    @Test("SRV priority: the lower-priority node first, then the other (127.0.0.1 then 127.0.0.2)")
    func srvPriority() async throws {
        let server = try TestDNSServer.start(records: Self.twoNodes + [
            .srv("_sip._udp.recorder.example.com", target: "node2.example.com", port: 5080, priority: 20, weight: 10),
            .srv("_sip._udp.recorder.example.com", target: "node1.example.com", port: 5070, priority: 10, weight: 10),
        ])
        defer { server.stop() }
        let answer = try await resolver(server).query(name: "_sip._udp.recorder.example.com", type: .srv)
        #expect(answer.outcome == .records)
        #expect(Set(answer.records.compactMap(\.srv)) == [
            SRVRecord(priority: 10, weight: 10, port: 5070, target: "node1.example.com"),
            SRVRecord(priority: 20, weight: 10, port: 5080, target: "node2.example.com"),
        ])
        #expect(answer.records.allSatisfy { $0.ttl == 30 })

        let locator = SIPTargetLocator(resolver: resolver(server), configuration: .init(addressFamilies: [.ipv4]))
        let targets = try await locator.locate(SIPDestination(uri: "sip:recorder.example.com")!, preferredTransport: .udp)
        #expect(targets == [
            SIPTarget(address: "127.0.0.1", port: 5070, transport: .udp, hostName: "node1.example.com"),
            SIPTarget(address: "127.0.0.2", port: 5080, transport: .udp, hostName: "node2.example.com"),
        ])
    }

    @Test("SRV weights 3:1 on one priority: node1 first about 75% of the time (cached answers, seeded order)")
    func srvWeights() async throws {
        let server = try TestDNSServer.start(records: Self.twoNodes + [
            .srv("_sip._udp.recorder.example.com", target: "node1.example.com", port: 5070, priority: 10, weight: 30),
            .srv("_sip._udp.recorder.example.com", target: "node2.example.com", port: 5080, priority: 10, weight: 10),
        ])
        defer { server.stop() }
        let cache = CachingDNSResolver(upstream: resolver(server))
        let locator = SIPTargetLocator(resolver: cache, configuration: .init(addressFamilies: [.ipv4]), random: SeededGenerator(seed: 2782))
        var node1First = 0
        let trials = 4000
        for _ in 0..<trials {
            let targets = try await locator.locate(SIPDestination(uri: "sip:recorder.example.com")!, preferredTransport: .udp)
            #expect(targets.count == 2)
            if targets.first?.address == "127.0.0.1" { node1First += 1 }
        }
        // σ ≈ 0.007 at 4000 trials.
        #expect(abs(Double(node1First) / Double(trials) - 0.75) < 0.03)
        // NAPTR, SRV and two A lookups, each once: the rest came from the cache.
        #expect(server.queryLog.components(separatedBy: "query[").count - 1 == 4)
    }

    @Test("NAPTR → SRV → A chain: the NAPTR order picks TCP over UDP")
    func naptrChain() async throws {
        let server = try TestDNSServer.start(records: Self.twoNodes + [
            .naptr("recorder.example.com", order: 20, preference: 10, flags: "s", service: "SIP+D2U", replacement: "_sip._udp.recorder.example.com"),
            .naptr("recorder.example.com", order: 10, preference: 10, flags: "s", service: "SIP+D2T", replacement: "_sip._tcp.recorder.example.com"),
            .srv("_sip._tcp.recorder.example.com", target: "node2.example.com", port: 5090, priority: 10, weight: 1),
            .srv("_sip._udp.recorder.example.com", target: "node1.example.com", port: 5070, priority: 10, weight: 1),
        ])
        defer { server.stop() }
        let answer = try await resolver(server).query(name: "recorder.example.com", type: .naptr)
        #expect(Set(answer.records.compactMap(\.naptr)) == [
            NAPTRRecord(order: 20, preference: 10, flags: "s", service: "SIP+D2U", regexp: "", replacement: "_sip._udp.recorder.example.com"),
            NAPTRRecord(order: 10, preference: 10, flags: "s", service: "SIP+D2T", regexp: "", replacement: "_sip._tcp.recorder.example.com"),
        ])
        let locator = SIPTargetLocator(resolver: resolver(server), configuration: .init(addressFamilies: [.ipv4]))
        #expect(try await locator.locate(SIPDestination(uri: "sip:recorder.example.com")!) == [
            SIPTarget(address: "127.0.0.2", port: 5090, transport: .tcp, hostName: "node2.example.com"),
            SIPTarget(address: "127.0.0.1", port: 5070, transport: .udp, hostName: "node1.example.com"),
        ])
        #expect(try await locator.locate(SIPDestination(uri: "sip:recorder.example.com")!, preferredTransport: .udp) == [
            SIPTarget(address: "127.0.0.1", port: 5070, transport: .udp, hostName: "node1.example.com"),
        ])
    }

    @Test("NXDOMAIN and NODATA are answers, told apart")
    func negative() async throws {
        let server = try TestDNSServer.start(records: Self.twoNodes)
        defer { server.stop() }
        let resolver = resolver(server)
        #expect(try await resolver.query(name: "missing.example.com", type: .a).outcome == .nameNotFound)
        #expect(try await resolver.query(name: "_sip._udp.missing.example.com", type: .srv).outcome == .nameNotFound)
        #expect(try await resolver.query(name: "node1.example.com", type: .srv).outcome == .noData)
        let a = try await resolver.query(name: "node1.example.com", type: .a)
        #expect(a.records.map(\.address) == ["127.0.0.1"])
        // No SRV anywhere: the locator ends with the name's address and port 5060.
        let locator = SIPTargetLocator(resolver: resolver, configuration: .init(addressFamilies: [.ipv4]))
        #expect(try await locator.locate(SIPDestination(uri: "sip:node2.example.com")!, preferredTransport: .udp)
            == [SIPTarget(address: "127.0.0.2", port: 5060, transport: .udp, hostName: "node2.example.com")])
        #expect(try await locator.locate(SIPDestination(uri: "sip:missing.example.com")!).isEmpty)
    }

    @Test("a name server that does not answer: a timeout error after about the timeout")
    func timeout() async throws {
        let silent = try SilentUDPServer()
        let resolver = SystemDNSResolver(configuration: DNSResolverConfiguration(nameServer: DNSNameServer(parsing: silent.address),
                                                                                 timeoutSeconds: 1, attempts: 1))
        let started = Date()
        await #expect(throws: DNSError.self) { try await resolver.query(name: "_sip._udp.example.com", type: .srv) }
        do {
            _ = try await resolver.query(name: "node1.example.com", type: .a)
            Issue.record("an answer from a silent server")
        } catch {
            #expect(error.code == .timeout)
        }
        let elapsed = Date().timeIntervalSince(started)
        #expect(elapsed >= 1.5 && elapsed < 6, "two queries of one 1 s attempt each took \(elapsed) s")
        let locator = SIPTargetLocator(resolver: resolver)
        do {
            _ = try await locator.locate(SIPDestination(uri: "sip:recorder.example.com")!)
            Issue.record("located through a silent server")
        } catch {
            #expect(error.code == .timeout)
        }
    }

    @Test("concurrent queries on two worker threads all get their own answers")
    func concurrent() async throws {
        let records = (1...20).map { TestDNSServer.Record.host("n\($0).example.com", address: "127.0.0.\($0)") }
        let server = try TestDNSServer.start(records: records)
        defer { server.stop() }
        let resolver = resolver(server)
        let answers = try await withThrowingTaskGroup(of: (Int, [String]).self) { group in
            for index in 1...20 {
                group.addTask { (index, try await resolver.query(name: "n\(index).example.com", type: .a).records.compactMap(\.address)) }
            }
            var result: [Int: [String]] = [:]
            for try await (index, addresses) in group { result[index] = addresses }
            return result
        }
        for index in 1...20 { #expect(answers[index] == ["127.0.0.\(index)"]) }
    }
}
