import Testing
import SIPTestSupport
@testable import SIPLocator

private func naptr(_ order: UInt16, _ service: String, _ replacement: String, preference: UInt16 = 50, flags: String = "s") -> DNSRecord.Data {
    .naptr(NAPTRRecord(order: order, preference: preference, flags: flags, service: service, regexp: "", replacement: replacement))
}

private func srv(_ target: String, _ port: UInt16, priority: UInt16 = 10, weight: UInt16 = 0) -> DNSRecord.Data {
    .srv(SRVRecord(priority: priority, weight: weight, port: port, target: target))
}

private func target(_ address: String, _ port: UInt16, _ transport: SIPTarget.Transport, _ host: String? = nil) -> SIPTarget {
    SIPTarget(address: address, port: port, transport: transport, hostName: host)
}

/// example.com with two nodes, both with IPv4 and IPv6 addresses.
private func nodes() -> FakeResolver {
    let resolver = FakeResolver()
    resolver.set("node1.example.com", .a, [.a("192.0.2.1")])
    resolver.set("node1.example.com", .aaaa, [.aaaa("2001:db8::1")])
    resolver.set("node2.example.com", .a, [.a("192.0.2.2")])
    resolver.set("node2.example.com", .aaaa, [.aaaa("2001:db8::2")])
    return resolver
}

private func locator(_ resolver: FakeResolver, families: [SIPTargetLocator.AddressFamily] = [.ipv4]) -> SIPTargetLocator {
    SIPTargetLocator(resolver: resolver, configuration: .init(addressFamilies: families), random: SeededGenerator(seed: 1))
}

@Suite("RFC 3263 SIP target location")
struct SIPTargetLocatorTests {
    @Test("a numeric host is used as it is, default port by transport, no DNS")
    func numeric() async throws {
        let resolver = FakeResolver()
        let locator = locator(resolver)
        #expect(try await locator.locate(SIPDestination(uri: "sip:192.0.2.5")!) == [target("192.0.2.5", 5060, .udp)])
        #expect(try await locator.locate(SIPDestination(uri: "sips:192.0.2.5")!) == [target("192.0.2.5", 5061, .tls)])
        #expect(try await locator.locate(SIPDestination(uri: "sip:192.0.2.5:5070;transport=tcp")!) == [target("192.0.2.5", 5070, .tcp)])
        #expect(try await locator.locate(SIPDestination(uri: "sip:srs@[2001:db8::9]:5080")!) == [target("2001:db8::9", 5080, .udp)])
        #expect(try await locator.locate(SIPDestination(uri: "sip:192.0.2.5")!, preferredTransport: .tcp) == [target("192.0.2.5", 5060, .tcp)])
        #expect(resolver.questions.isEmpty)
    }

    @Test("an explicit port means A/AAAA only (§4.2)")
    func explicitPort() async throws {
        let resolver = nodes()
        resolver.set("example.com", .naptr, [naptr(10, "SIP+D2U", "_sip._udp.example.com")])
        let targets = try await locator(resolver, families: [.ipv4, .ipv6]).locate(SIPDestination(uri: "sip:node1.example.com:5090")!)
        #expect(targets == [target("192.0.2.1", 5090, .udp, "node1.example.com"), target("2001:db8::1", 5090, .udp, "node1.example.com")])
        #expect(Set(resolver.questions.map(\.type)) == [.a, .aaaa])
    }

    @Test("NAPTR → SRV → A: NAPTR order decides the transports, SRV priority the nodes")
    func naptrChain() async throws {
        let resolver = nodes()
        resolver.set("example.com", .naptr, [
            naptr(20, "SIP+D2U", "_sip._udp.example.com"),
            naptr(10, "SIP+D2T", "_sip._tcp.example.com"),
            naptr(30, "SIPS+D2T", "_sips._tcp.example.com"),
            naptr(5, "E2U+sip", "example.com", flags: "u"),  // not a SIP transport: ignored
        ])
        resolver.set("_sip._tcp.example.com", .srv, [srv("node2.example.com", 5062, priority: 20), srv("node1.example.com", 5061, priority: 10)])
        resolver.set("_sip._udp.example.com", .srv, [srv("node1.example.com", 5060)])
        resolver.set("_sips._tcp.example.com", .srv, [srv("node1.example.com", 5063)])
        let targets = try await locator(resolver).locate(SIPDestination(uri: "sip:srs@example.com")!)
        #expect(targets == [
            target("192.0.2.1", 5061, .tcp, "node1.example.com"),
            target("192.0.2.2", 5062, .tcp, "node2.example.com"),
            target("192.0.2.1", 5060, .udp, "node1.example.com"),
            target("192.0.2.1", 5063, .tls, "node1.example.com"),
        ])
    }

    @Test("a transport preference keeps only that transport's NAPTR records")
    func preference() async throws {
        let resolver = nodes()
        resolver.set("example.com", .naptr, [naptr(10, "SIP+D2T", "_sip._tcp.example.com"), naptr(20, "SIP+D2U", "_sip._udp.example.com")])
        resolver.set("_sip._tcp.example.com", .srv, [srv("node2.example.com", 5062)])
        resolver.set("_sip._udp.example.com", .srv, [srv("node1.example.com", 5060)])
        let targets = try await locator(resolver).locate(SIPDestination(uri: "sip:example.com")!, preferredTransport: .udp)
        #expect(targets == [target("192.0.2.1", 5060, .udp, "node1.example.com")])
        #expect(resolver.count("_sip._tcp.example.com", .srv) == 0)
    }

    @Test("a SIPS URI keeps only SIPS+D2T")
    func sips() async throws {
        let resolver = nodes()
        resolver.set("example.com", .naptr, [naptr(10, "SIP+D2U", "_sip._udp.example.com"), naptr(20, "SIPS+D2T", "_sips._tcp.example.com")])
        resolver.set("_sip._udp.example.com", .srv, [srv("node1.example.com", 5060)])
        resolver.set("_sips._tcp.example.com", .srv, [srv("node2.example.com", 5061)])
        let targets = try await locator(resolver).locate(SIPDestination(uri: "sips:example.com")!)
        #expect(targets == [target("192.0.2.2", 5061, .tls, "node2.example.com")])
    }

    @Test("no NAPTR: SRV per supported transport, in the configured order (§4.1)")
    func srvWithoutNAPTR() async throws {
        let resolver = nodes()
        resolver.set("_sip._tcp.example.com", .srv, [srv("node2.example.com", 5062)])
        resolver.set("_sip._udp.example.com", .srv, [srv("node1.example.com", 5070), srv("node2.example.com", 5080, priority: 20)])
        let targets = try await locator(resolver).locate(SIPDestination(uri: "sip:example.com")!)
        #expect(targets == [
            target("192.0.2.1", 5070, .udp, "node1.example.com"),
            target("192.0.2.2", 5080, .udp, "node2.example.com"),
            target("192.0.2.2", 5062, .tcp, "node2.example.com"),
        ])
        #expect(resolver.count("example.com", .naptr) == 1)
        #expect(resolver.count("_sips._tcp.example.com", .srv) == 1)
    }

    @Test("a transport parameter skips NAPTR and asks SRV for that transport only")
    func transportParameter() async throws {
        let resolver = nodes()
        resolver.set("_sip._tcp.example.com", .srv, [srv("node2.example.com", 5062)])
        let targets = try await locator(resolver).locate(SIPDestination(uri: "sip:example.com;transport=tcp")!)
        #expect(targets == [target("192.0.2.2", 5062, .tcp, "node2.example.com")])
        #expect(resolver.count("example.com", .naptr) == 0)
        #expect(resolver.count("_sip._udp.example.com", .srv) == 0)
    }

    @Test("no SRV: the domain's addresses with the default port (UDP for sip:)")
    func addressFallback() async throws {
        let resolver = FakeResolver()
        resolver.set("recorder.example.com", .a, [.a("192.0.2.20"), .a("192.0.2.21")])
        let targets = try await locator(resolver).locate(SIPDestination(uri: "sip:recorder.example.com")!)
        #expect(targets == [target("192.0.2.20", 5060, .udp, "recorder.example.com"), target("192.0.2.21", 5060, .udp, "recorder.example.com")])
        let tcp = try await locator(resolver).locate(SIPDestination(uri: "sip:recorder.example.com")!, preferredTransport: .tcp)
        #expect(tcp == [target("192.0.2.20", 5060, .tcp, "recorder.example.com"), target("192.0.2.21", 5060, .tcp, "recorder.example.com")])
    }

    @Test("an SRV target of \".\" means no service: no fallback to addresses")
    func srvDot() async throws {
        let resolver = FakeResolver()
        resolver.set("_sip._udp.example.com", .srv, [srv(".", 0)])
        resolver.set("example.com", .a, [.a("192.0.2.30")])
        #expect(try await locator(resolver).locate(SIPDestination(uri: "sip:example.com")!, preferredTransport: .udp).isEmpty)
    }

    @Test("a timeout ends location with that error; SERVFAIL on one step moves on")
    func failures() async throws {
        let resolver = nodes()
        resolver.fail("example.com", .naptr, DNSError(.timeout))
        await #expect(throws: DNSError(.timeout)) {
            try await locator(resolver).locate(SIPDestination(uri: "sip:example.com")!)
        }

        let servfail = nodes()
        servfail.fail("example.com", .naptr, DNSError(.serverFailure))
        servfail.set("_sip._udp.example.com", .srv, [srv("node1.example.com", 5070)])
        #expect(try await locator(servfail).locate(SIPDestination(uri: "sip:example.com")!, preferredTransport: .udp)
            == [target("192.0.2.1", 5070, .udp, "node1.example.com")])

        // Nothing found and a failure on the way: the failure is the answer.
        let broken = FakeResolver()
        broken.fail("example.com", .naptr, DNSError(.noRecovery))
        await #expect(throws: DNSError(.noRecovery)) {
            try await locator(broken).locate(SIPDestination(uri: "sip:example.com")!)
        }
        // Nothing found, nothing failed: an empty list.
        #expect(try await locator(FakeResolver()).locate(SIPDestination(uri: "sip:example.com")!).isEmpty)
    }

    @Test("the same address through two names is listed once")
    func duplicates() async throws {
        let resolver = FakeResolver()
        resolver.set("_sip._udp.example.com", .srv, [srv("a.example.com", 5060, priority: 1), srv("b.example.com", 5060, priority: 2)])
        resolver.set("a.example.com", .a, [.a("192.0.2.40")])
        resolver.set("b.example.com", .a, [.a("192.0.2.40")])
        #expect(try await locator(resolver).locate(SIPDestination(uri: "sip:example.com")!, preferredTransport: .udp)
            == [target("192.0.2.40", 5060, .udp, "a.example.com")])
    }

    @Test("locate(service:) for HTTP peers: SRV then addresses, or addresses with the default port")
    func genericService() async throws {
        let resolver = nodes()
        resolver.set("_http._tcp.api.example.com", .srv, [srv("node2.example.com", 8081, priority: 2), srv("node1.example.com", 8080, priority: 1)])
        resolver.set("web.example.com", .a, [.a("192.0.2.50")])
        let locator = locator(resolver)
        #expect(try await locator.locate(service: "_http._tcp", name: "api.example.com", defaultPort: 80) == [
            ServiceTarget(address: "192.0.2.1", port: 8080, hostName: "node1.example.com"),
            ServiceTarget(address: "192.0.2.2", port: 8081, hostName: "node2.example.com"),
        ])
        #expect(try await locator.locate(service: "_http._tcp", name: "web.example.com", defaultPort: 80)
            == [ServiceTarget(address: "192.0.2.50", port: 80, hostName: "web.example.com")])
        #expect(try await locator.locate(service: "_http._tcp", name: "192.0.2.60", defaultPort: 8080)
            == [ServiceTarget(address: "192.0.2.60", port: 8080)])
    }

    @Test("SIP URI parts", arguments: [
        ("sip:example.com", SIPDestination(host: "example.com")),
        ("sip:srs@example.com:5070;transport=TCP;lr", SIPDestination(host: "example.com", port: 5070, transport: .tcp)),
        ("SIPS:example.com;transport=tcp", SIPDestination(host: "example.com", transport: .tls, secure: true)),
        ("sip:[2001:db8::1]", SIPDestination(host: "2001:db8::1")),
        ("sip:example.com?subject=x", SIPDestination(host: "example.com")),
    ])
    func destinations(uri: String, expected: SIPDestination) {
        #expect(SIPDestination(uri: uri) == expected)
    }

    @Test("not SIP URIs", arguments: ["example.com", "http://example.com", "sip:", "sip:example.com:0", "sip:example.com:99999",
                                      "sip:[2001:db8::1", "sip:example.com;transport=sctp", "sip:[not-v6]"])
    func notDestinations(uri: String) {
        #expect(SIPDestination(uri: uri) == nil)
    }
}
