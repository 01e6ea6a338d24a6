import Foundation

/// Where an HTTP request the recorder sends (replication to a peer, a webhook) goes, in
/// failover order, by DNS the way RFC 3263 locates SIP servers: SRV `_http._tcp.<host>` (or
/// `_https._tcp`) with priority and weighted order, else the host's A/AAAA records with the
/// URL's port; answers are cached for their TTL. A URL with an explicit port or a numeric host
/// is used as it is (SRV does not apply, as in RFC 3263 §4.2).
///
/// HTTPS candidates keep the SRV target's host name (certificate checks need it); plain HTTP
/// candidates use the addresses, so each address is a target of its own.
public final class HTTPEndpointLocator: Sendable {
    private let locator: SIPTargetLocator

    public init(resolver: any DNSResolver) {
        locator = SIPTargetLocator(resolver: resolver)
    }

    /// With the system's name servers (`nameServer`: one `IP[:PORT]` instead, for tests).
    public convenience init(nameServer: String? = nil) {
        let server = nameServer.flatMap(DNSNameServer.init(parsing:))
        self.init(resolver: CachingDNSResolver(upstream: SystemDNSResolver(configuration: DNSResolverConfiguration(nameServer: server))))
    }

    /// The URLs to try for `url`, first choice first. Never empty: when DNS has nothing (or
    /// fails), `url` itself, which the HTTP client resolves as usual.
    public func candidates(for url: URL) async -> [URL] {
        guard let host = url.host, !host.isEmpty, url.port == nil,
              !IPAddressText.isIPv4(host), !IPAddressText.isIPv6(host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))) else {
            return [url]
        }
        let secure = url.scheme == "https"
        let targets: [ServiceTarget]
        do {
            targets = try await locator.locate(service: secure ? "_https._tcp" : "_http._tcp", name: host, defaultPort: secure ? 443 : 80)
        } catch {
            return [url]
        }
        var urls: [URL] = []
        var seen = Set<String>()
        for target in targets {
            var components = URLComponents(url: url, resolvingAgainstBaseURL: false)
            let address = target.address.contains(":") ? "[\(target.address)]" : target.address
            components?.host = secure ? (target.hostName ?? address) : address
            components?.port = Int(target.port)
            guard let candidate = components?.url, seen.insert(candidate.absoluteString).inserted else { continue }
            urls.append(candidate)
        }
        return urls.isEmpty ? [url] : urls
    }
}
