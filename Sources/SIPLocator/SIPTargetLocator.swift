import Foundation

/// RFC 3263 §4 client location: from a SIP URI's host, port and transport to the ordered list
/// of (address, port, transport) to try in turn, through NAPTR, SRV (RFC 2782 order) and
/// A/AAAA. Also `locate(service:name:defaultPort:)` for other SRV services.
///
/// A lookup that times out ends the location with that error (the name server is not
/// answering; further queries would wait as long). Other failures (SERVFAIL, REFUSED, a
/// malformed answer) count as "no records" for that step; if nothing at all is found, the
/// first of them is thrown.
public struct SIPTargetLocator: Sendable {
    public enum AddressFamily: Hashable, Sendable {
        case ipv4, ipv6
    }

    public struct Configuration: Sendable {
        /// Transports this client can use, in the order it tries them when DNS gives no order
        /// (no NAPTR records).
        public var transports: [SIPTarget.Transport]
        /// Address records asked for, in this order, for each host.
        public var addressFamilies: [AddressFamily]

        public init(transports: [SIPTarget.Transport] = [.udp, .tcp, .tls], addressFamilies: [AddressFamily] = [.ipv4, .ipv6]) {
            self.transports = transports
            self.addressFamilies = addressFamilies
        }
    }

    public let configuration: Configuration
    private let resolver: any DNSResolver
    private let random: RandomSource

    public init(resolver: any DNSResolver, configuration: Configuration = Configuration()) {
        self.init(resolver: resolver, configuration: configuration, random: SystemRandomNumberGenerator())
    }

    /// `random` orders SRV records of equal priority (a seeded generator makes tests repeatable).
    public init<Generator: RandomNumberGenerator & Sendable>(resolver: any DNSResolver, configuration: Configuration = Configuration(),
                                                             random: Generator) {
        self.resolver = resolver
        self.configuration = configuration
        self.random = RandomSource(random)
    }

    // MARK: - SIP

    /// The targets for `destination`, best first. `preferredTransport` restricts the result
    /// to that transport (a client that speaks only it); NAPTR and SRV order is kept otherwise.
    /// An empty list: nothing usable was found.
    public func locate(_ destination: SIPDestination, preferredTransport: SIPTarget.Transport? = nil) async throws(DNSError) -> [SIPTarget] {
        // RFC 3263 §4.1: a SIPS URI is reached over TLS only.
        var allowed = configuration.transports.filter { !destination.secure || $0 == .tls }
        if let preferredTransport { allowed = allowed.filter { $0 == preferredTransport } }
        if let explicit = destination.transport { allowed = allowed.filter { $0 == explicit } }
        guard let fallbackTransport = Self.fallbackTransport(allowed: allowed, secure: destination.secure) else { return [] }
        let host = destination.host
        var lookups = Lookups()

        // §4.2: a numeric host is used as it is; an explicit port means A/AAAA only.
        if destination.isNumeric {
            return [SIPTarget(address: host, port: destination.port ?? fallbackTransport.defaultPort, transport: fallbackTransport)]
        }
        if let port = destination.port {
            let addresses = try await addresses(of: host, &lookups)
            return try lookups.result(addresses.map { SIPTarget(address: $0, port: port, transport: fallbackTransport, hostName: host) })
        }

        var targets: [SIPTarget] = []
        var foundSRV = false
        if destination.transport == nil {
            // §4.1: NAPTR records say which transports the domain offers, in order.
            for naptr in try await usableNAPTRs(of: host, allowed: allowed, &lookups) {
                let srv = try await records(naptr.record.replacement, .srv, &lookups).compactMap(\.srv)
                foundSRV = foundSRV || !srv.isEmpty
                targets += try await expand(srv, &lookups).map {
                    SIPTarget(address: $0.address, port: $0.port, transport: naptr.transport, hostName: $0.hostName)
                }
            }
        }
        if targets.isEmpty && !foundSRV {
            // §4.1: no NAPTR: an SRV query per transport; a transport is offered if it has records.
            for transport in allowed {
                let srv = try await records("\(transport.srvPrefix).\(host)", .srv, &lookups).compactMap(\.srv)
                foundSRV = foundSRV || !srv.isEmpty
                targets += try await expand(srv, &lookups).map {
                    SIPTarget(address: $0.address, port: $0.port, transport: transport, hostName: $0.hostName)
                }
            }
        }
        if targets.isEmpty && !foundSRV {
            // §4.2: no SRV: the host's addresses, default port (UDP for sip:, TLS for sips:).
            targets = try await addresses(of: host, &lookups).map {
                SIPTarget(address: $0, port: fallbackTransport.defaultPort, transport: fallbackTransport, hostName: host)
            }
        }
        return try lookups.result(Self.unique(targets) { "\($0.address) \($0.port) \($0.transport)" })
    }

    /// The transport used without NAPTR or SRV: the URI's, else UDP for sip: and TLS for
    /// sips: (RFC 3263 §4.1), else the first allowed.
    static func fallbackTransport(allowed: [SIPTarget.Transport], secure: Bool) -> SIPTarget.Transport? {
        let preferred: SIPTarget.Transport = secure ? .tls : .udp
        return allowed.contains(preferred) ? preferred : allowed.first
    }

    private func usableNAPTRs(of host: String, allowed: [SIPTarget.Transport], _ lookups: inout Lookups) async throws(DNSError)
        -> [(record: NAPTRRecord, transport: SIPTarget.Transport)] {
        let records = try await records(host, .naptr, &lookups).compactMap(\.naptr)
        return records
            .compactMap { record -> (record: NAPTRRecord, transport: SIPTarget.Transport)? in
                // §4.1: flag "s" (an SRV lookup follows) and a SIP service this client supports.
                guard record.flags.lowercased() == "s", record.replacement != ".",
                      let transport = SIPTarget.Transport(naptrService: record.service), allowed.contains(transport) else { return nil }
                return (record, transport)
            }
            .sorted { ($0.record.order, $0.record.preference) < ($1.record.order, $1.record.preference) }
    }

    // MARK: - Other services

    /// `service` ("_http._tcp") at `name`: its SRV records in RFC 2782 order, each target's
    /// addresses; without SRV records, the name's addresses with `defaultPort`. A numeric
    /// name is used as it is.
    public func locate(service: String, name: String, defaultPort: UInt16) async throws(DNSError) -> [ServiceTarget] {
        if IPAddressText.isIPv4(name) || IPAddressText.isIPv6(name) {
            return [ServiceTarget(address: name, port: defaultPort)]
        }
        var lookups = Lookups()
        let srv = try await records("\(service).\(name)", .srv, &lookups).compactMap(\.srv)
        if !srv.isEmpty {
            return try lookups.result(Self.unique(try await expand(srv, &lookups)) { "\($0.address) \($0.port)" })
        }
        let addresses = try await addresses(of: name, &lookups)
        return try lookups.result(addresses.map { ServiceTarget(address: $0, port: defaultPort, hostName: name) })
    }

    // MARK: - Lookups

    /// The first non-fatal failure, thrown when nothing was found.
    struct Lookups {
        var firstError: DNSError?

        func result<Target>(_ targets: [Target]) throws(DNSError) -> [Target] {
            if targets.isEmpty, let firstError { throw firstError }
            return targets
        }
    }

    private func records(_ name: String, _ type: DNSRecordType, _ lookups: inout Lookups) async throws(DNSError) -> [DNSRecord] {
        do {
            return try await resolver.query(name: name, type: type).records
        } catch {
            if error.code == .timeout { throw error }
            if lookups.firstError == nil { lookups.firstError = error }
            return []
        }
    }

    private func addresses(of host: String, _ lookups: inout Lookups) async throws(DNSError) -> [String] {
        var result: [String] = []
        for family in configuration.addressFamilies {
            let records = try await records(host, family == .ipv4 ? .a : .aaaa, &lookups)
            result += records.compactMap(\.address)
        }
        return result
    }

    /// SRV records in RFC 2782 order, each target's addresses in turn. A target of "."
    /// offers nothing (RFC 2782).
    private func expand(_ srv: [SRVRecord], _ lookups: inout Lookups) async throws(DNSError) -> [ServiceTarget] {
        var targets: [ServiceTarget] = []
        for record in random.order(srv) where record.target != "." {
            for address in try await addresses(of: record.target, &lookups) {
                targets.append(ServiceTarget(address: address, port: record.port, hostName: record.target))
            }
        }
        return targets
    }

    /// The first of targets with the same key (the same address reached through two names).
    static func unique<Target>(_ targets: [Target], key: (Target) -> String) -> [Target] {
        var seen: Set<String> = []
        return targets.filter { seen.insert(key($0)).inserted }
    }
}

/// A random number generator shared by concurrent locations.
final class RandomSource: @unchecked Sendable {
    private struct Erased: RandomNumberGenerator {
        var base: any RandomNumberGenerator
        mutating func next() -> UInt64 { base.next() }
    }

    private let lock = NSLock()
    private var generator: Erased

    init(_ generator: some RandomNumberGenerator) {
        self.generator = Erased(base: generator)
    }

    func order(_ records: [SRVRecord]) -> [SRVRecord] {
        lock.withLock { SRVOrdering.order(records, using: &generator) }
    }
}
